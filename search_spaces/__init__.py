"""Search spaces: architecture strings, the MnasNet, NAGO and toy spaces, the model builder,
costs, and families of architectures (AutoKD)."""

from .architecture import Architecture, Block
from .base import Decision, SearchSpace
from .builder import build_model, parse_arch
from .cost import Cost, count_cost
from .mnasnet_space import MnasNetSpace, Stage
from .nago import NagoArch, NagoSpace
from .published import mnasnet_a1, mnasnet_b1
from .registry import Registry, available_spaces, get_space, register_space
from .toy_space import ToySpace

__all__ = [
    "Architecture", "Block", "Cost", "Decision", "MnasNetSpace", "NagoArch", "NagoSpace",
    "Registry", "SearchSpace", "Stage", "ToySpace", "available_spaces", "build_model",
    "count_cost", "get_space", "mnasnet_a1", "mnasnet_b1", "parse_arch", "register_space",
]
