"""Search strategies behind one ask/tell interface: LSTM REINFORCE / PPO, random, evolution,
Bayesian optimisation through Optuna (TPE, Gaussian process), and AutoKD's BO over families."""

from .autokd import AutoKDConfig, AutoKDController
from .base import Candidate, Controller, PolicyReadout
from .bayes import BayesConfig, GPController, TPEController
from .evolution import EvolutionConfig, RegularizedEvolution
from .lstm_controller import PPOConfig, PPOController, ReinforceConfig, ReinforceController
from .random_search import RandomSearch
from .registry import available_controllers, get_controller, register_controller

__all__ = [
    "AutoKDConfig", "AutoKDController", "BayesConfig", "Candidate", "Controller",
    "EvolutionConfig", "GPController", "PPOConfig", "PPOController", "PolicyReadout",
    "RandomSearch", "ReinforceConfig", "ReinforceController", "RegularizedEvolution",
    "TPEController", "available_controllers", "get_controller", "register_controller",
]
