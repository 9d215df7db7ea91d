"""Search strategies behind one ask/tell interface: LSTM REINFORCE / PPO, random, evolution."""

from .base import Candidate, Controller, PolicyReadout
from .evolution import EvolutionConfig, RegularizedEvolution
from .lstm_controller import PPOConfig, PPOController, ReinforceConfig, ReinforceController
from .random_search import RandomSearch
from .registry import available_controllers, get_controller, register_controller

__all__ = [
    "Candidate", "Controller", "EvolutionConfig", "PPOConfig", "PPOController", "PolicyReadout",
    "RandomSearch", "ReinforceConfig", "ReinforceController", "RegularizedEvolution",
    "available_controllers", "get_controller", "register_controller",
]
