"""What every room of akd shares: crash-safe files (:mod:`.io`), the statistics every number is
reported with (:mod:`.stats`), number formatting (:mod:`.formatting`), config fields with their
help (:mod:`.fields`), the one device resolver (:mod:`.devices`), logging and the commands' error handling (:mod:`.logs`), the core lock
(:mod:`.cores`), the Ray connection (:mod:`.cluster`, Ray imported only when used) and lazy
exports (:mod:`.lazy`). Nothing here imports another room of akd but :mod:`akd.errors`."""

from .cluster import check_reachable, connect, disconnect, import_ray
from .cores import CoreLock, pin_to_cores
from .devices import is_device_name, resolve_device
from .fields import help_of, option
from .formatting import MISSING, csv_cell, fraction, interval, number, percent, signed
from .io import (append_line, atomic_file, check_out, json_safe, load_cached, partial_path,
                 read_json, read_lines, save_atomic, save_cached, write_atomic, write_json,
                 write_lines, write_text)
from .lazy import lazy_exports
from .logs import configure_logging, run_command
from .stats import CONFIDENCE, kendall, mean, mean_ci, median, spearman, stdev, total_variation

__all__ = ["CONFIDENCE", "CoreLock", "MISSING", "append_line", "atomic_file", "check_out",
           "check_reachable", "configure_logging", "connect", "csv_cell", "disconnect", "fraction",
           "help_of", "import_ray", "interval", "is_device_name", "json_safe", "kendall",
           "lazy_exports", "load_cached", "mean", "mean_ci", "median", "number", "option",
           "partial_path", "percent", "pin_to_cores", "read_json", "read_lines", "resolve_device",
           "run_command", "save_atomic", "save_cached", "signed", "spearman", "stdev",
           "total_variation", "write_atomic", "write_json", "write_lines", "write_text"]
