"""The one device resolver: what a config's device names (``auto``, ``cpu``, ``cuda``,
``cuda:N``) mean on this machine, checked in one place for the trainings, the latency
measurement and the preflight of a run."""

from __future__ import annotations

import torch

from ..errors import ConfigError

DEVICES = '"auto", "cpu", "cuda" or "cuda:N"'


def is_device_name(name: object) -> bool:
    """Whether ``name`` is a device a config may name (present on this machine or not)."""
    if name == "auto":
        return True
    try:
        return torch.device(name).type in ("cpu", "cuda")
    except (RuntimeError, TypeError):
        return False


def resolve_device(name: str | torch.device, key: str = "device",
                   allow_auto: bool = True) -> torch.device:
    """The torch device ``name`` (config key ``key``) is on this machine: ``auto`` is CUDA
    where there is a GPU, else the CPU. A one-line :class:`ConfigError` naming ``key`` when it is
    no device, not a CPU or CUDA one, or a GPU this machine does not have."""
    if name == "auto" and allow_auto:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ConfigError(f"{key} = {name!r} is not a device; use "
                          f"{DEVICES if allow_auto else 'cpu, cuda or cuda:N'}") from None
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"{key} = {name!r} is not supported; use cpu, cuda or cuda:N")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"{key} = {name!r}, but CUDA is not available on this machine; use "
                          "cpu" + (" (or auto)" if allow_auto else ""))
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ConfigError(f"{key} = {name!r}, but this machine has "
                          f"{torch.cuda.device_count()} CUDA device(s)")
    return device
