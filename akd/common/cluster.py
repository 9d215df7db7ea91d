"""The Ray connection: made once per program and shared by everything that uses Ray.

The Ray evaluator, the dedicated latency worker and the final stage all call :func:`connect`; the
first call starts a local instance (``address`` None) or joins a cluster (``"auto"``, or a
``ray://`` address), later calls find it connected (starting a local instance costs about 2.5 s,
stopping it 1.4 s). Ray's exit handler disconnects, and stops a local instance, when the program
ends; :func:`disconnect` does it earlier, for a caller that goes on after its Ray work. Ray is an
optional dependency: it is imported here only when a function is called.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

from ..errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]  # so Ray workers import akd from a checkout, too


def connect(address: str | None) -> None:
    """Connect to (or start) the Ray instance ``address`` names, unless this program already has
    a connection."""
    ray = import_ray()
    if ray.is_initialized():
        return
    check_reachable(address)
    try:
        # "local": a new instance even where a `ray start` cluster runs (Ray would join that)
        ray.init(address=address or "local", include_dashboard=False, log_to_driver=False,
                 configure_logging=False, runtime_env={"env_vars": {"PYTHONPATH": _pythonpath()}})
    except ConnectionError as error:
        raise ConfigError(f"evaluator.address = {address!r}: no Ray cluster answers there "
                          f"({error}); null starts a local one") from None


def check_reachable(address: str | None) -> None:
    """ConfigError unless the cluster ``address`` names answers (None: a local instance, which
    always can be started)."""
    problem = address and _unreachable(address)
    if problem:
        raise ConfigError(f"evaluator.address = {address!r}: no Ray cluster answers there "
                          f"({problem}); null starts a local one")


def disconnect() -> None:
    """Disconnect from Ray (stopping the local instance this program started), if connected."""
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()


def import_ray():
    try:
        import ray
    except ImportError:
        raise ConfigError("evaluator.backend: ray (and latency.where: worker) need Ray; install "
                          "it with pip install -c constraints.txt -e '.[ray]'") from None
    return ray


def _unreachable(address: str) -> str | None:
    """Why the head that ``address`` names does not answer, or None. Checked with a 5-second TCP
    connect first, because ``ray.init`` keeps retrying a dead head for many minutes (as when the
    cluster that ``auto`` finds recorded in Ray's temp folder has stopped)."""
    if address.startswith("ray://"):
        target = address[len("ray://"):]
    else:
        try:  # "auto" -> RAY_ADDRESS or the latest `ray start` (Ray's own lookup; private API)
            from ray._private.services import canonicalize_bootstrap_address
            target = canonicalize_bootstrap_address(address)
        except ConnectionError as error:  # none running, none recorded
            return str(error).split(". ")[0]
        except Exception:  # the API moved: ray.init says what is wrong
            return None
        if not target:
            return "no running cluster was found (ray start --head starts one)"
    host, _, port = target.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except (OSError, ValueError) as error:
        return f"{target}: {error}"
    return None


def _pythonpath() -> str:
    return os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
