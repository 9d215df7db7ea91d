"""The run config: typed dataclasses with a comment per field, read from YAML, overridden by --set.

A YAML file (``yaml.safe_load``) gives any subset of the fields; ``--set key.path=value`` lines
override them, each value parsed as YAML (so ``3`` is an int, ``[akd]`` a list, ``null`` None).
Unknown keys are an error that names the key and lists the valid ones; wrong types an error that
names the key and the expected type (dacite checks them). The fully resolved config is what a run
writes to its directory and what ``--resume`` compares against.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dacite
import yaml

from controllers import available_controllers
from search_spaces import available_spaces

from .arms import ARMS, any_distills
from .common.fields import option
from .common.io import write_text
from .data import DataConfig, default_cache_dir
from .distill import TeacherConfig, TrainConfig
from .errors import ConfigError
from .latency import LatencySettings
from .predict.predictor import MODELS as PREDICTOR_MODELS

BACKENDS = ("serial", "process", "ray")
PRESETS = Path(__file__).resolve().parent / "presets"  # shipped inside the package


@dataclass(frozen=True)
class SpaceConfig:
    name: str = option("mnasnet", help="a registered search space (search_spaces.get_space)")
    preset: str | None = option("small28", help="the space's skeleton preset; null for spaces "
                                                "without presets")
    options: dict[str, Any] = option(factory=dict, help="further keyword arguments of the space")


@dataclass(frozen=True)
class ControllerConfig:
    name: str = option("lstm_ppo", help="lstm_ppo (MnasNet's), lstm_reinforce, random, evolution, "
                                        "tpe, gp")
    options: dict[str, Any] = option(factory=dict, help="keyword options, e.g. {lr: 0.001}")


SCREENING_TARGETS = ("first", "top")  # what screening predicts under a schedule


@dataclass(frozen=True)
class ScreeningConfig:
    factor: int = option(1, help='ask factor x search.batch_size candidates a step, train only the '
                                 'search.batch_size the predictor ranks highest by reward, tell '
                                 'the others their predicted reward (status "predicted" in '
                                 'trials.jsonl); 1: no screening. search.trials counts trainings')
    model: str = option("trees", help="the predictor (akd.predict): trees (scikit-learn gradient "
                                      "boosting) or neural (DaSS-style, MSE plus a ranking loss)")
    table: str | None = option("auto", help="benchmark table the predictor starts from: auto (a "
                                            "shipped table of this dataset and space), a shipped "
                                            "name or a .jsonl(.gz) path, or null (none); it is "
                                            "refitted on the run's own trials as they finish")
    warmup: int = option(0, help="trainings of each arm before screening starts when no table is "
                                 "used; 0: one controller update's worth (factor x "
                                 "search.batch_size)")
    target: str = option("first", help='with search.schedule, what the predictor predicts: "first" '
                                       '(the lowest rung: a benchmark table as prior, corrected on '
                                       'the run\'s lowest-rung trainings) or "top" (the top rung: '
                                       'a ladder\'s top rung as prior, table: auto finds the '
                                       'shipped ladder, corrected on the run\'s top-rung results); '
                                       'a flat search has one budget: first')

    def __post_init__(self) -> None:
        if self.factor < 1:
            raise ValueError(f"search.screening.factor must be >= 1, got {self.factor}")
        if self.warmup < 0:
            raise ValueError(f"search.screening.warmup must be >= 0, got {self.warmup}")
        if self.model not in PREDICTOR_MODELS:
            raise ValueError(f"search.screening.model = {self.model!r}; allowed: "
                             f"{', '.join(PREDICTOR_MODELS)}")
        if self.target not in SCREENING_TARGETS:
            raise ValueError(f"search.screening.target = {self.target!r}; allowed: "
                             f"{', '.join(SCREENING_TARGETS)}")

    @property
    def enabled(self) -> bool:
        return self.factor > 1


SCHEDULES = ("flat", "successive_halving", "hyperband")
TELL_RULES = ("rank", "raw", "per_budget")


@dataclass(frozen=True)
class ScheduleConfig:
    name: str = option("flat", help="how a search spends its compute: flat (every candidate one "
                                    "proxy training, then the next batch), successive_halving "
                                    "(brackets of search.batch_size candidates trained at the "
                                    "lowest rung, the best 1/eta of each rung continued to the "
                                    "next, the top rung with top_seeds seeds; with "
                                    "search.asynchronous, ASHA) or hyperband "
                                    "(successive halving's brackets started at every rung in "
                                    "turn). [Schedules](schedules.md)")
    rungs: list[int] = option(factory=lambda: [1, 4, 16],
                              help="successive_halving/hyperband: epochs over the proxy images at "
                                   "each rung, cheapest first; the learning rate follows the top "
                                   "rung's schedule, and a promotion continues the training from "
                                   "its checkpoint (proxy.epochs is not used)")
    eta: int = option(4, help="keep the best 1/eta of a rung's candidates (by reward)")
    top_seeds: int = option(2, help="trainings of each candidate at the top rung (seeds); the "
                                    "winner is judged by their mean")
    tell: str = option("rank", help="what the controller learns when a bracket ends: rank (the "
                                    "rung reached plus the percentile among that rung's results, "
                                    "over the number of rungs: a stopped candidate never looks "
                                    "worse only for training less), raw (the reward at the "
                                    "highest rung reached) or per_budget (BOHB's model, for the "
                                    "tpe and gp controllers: the reward at every rung reached, "
                                    "kept per rung; the model fits the highest rung with enough "
                                    "results; synchronous searches)")
    first_rung_latency: str = option("measured", help="multi-fidelity search: measured (time "
                                                      "every candidate) or table (the per-layer "
                                                      "lookup table, scaled to the measurements of "
                                                      "the reward target's sample, for a "
                                                      "bracket's first rung; only the promoted "
                                                      "are measured)")
    budget: int = option(0, help="training samples (images x epochs) per arm; 0: what flat "
                                 "spends, search.trials x the proxy's images x proxy.epochs. "
                                 "Brackets run while the next one fits")

    def __post_init__(self) -> None:
        if self.name not in SCHEDULES:
            raise ValueError(f"search.schedule.name = {self.name!r}; allowed: "
                             f"{', '.join(SCHEDULES)}")
        rungs = self.rungs
        if not rungs or any(not isinstance(r, int) or isinstance(r, bool) or r < 1
                            for r in rungs) or rungs != sorted(set(rungs)):
            raise ValueError(f"search.schedule.rungs = {rungs!r}: epochs of each rung, positive "
                             "integers growing from the cheapest, e.g. [1, 4, 16]")
        if self.eta < 2:
            raise ValueError(f"search.schedule.eta must be >= 2, got {self.eta}")
        if self.top_seeds < 2:
            raise ValueError(f"search.schedule.top_seeds must be >= 2 (the top rung judges a "
                             f"student by the mean of its seeds), got {self.top_seeds}")
        if self.tell not in TELL_RULES:
            raise ValueError(f"search.schedule.tell = {self.tell!r}; allowed: "
                             f"{', '.join(TELL_RULES)}")
        if self.first_rung_latency not in ("measured", "table"):
            raise ValueError(f"search.schedule.first_rung_latency = {self.first_rung_latency!r}; "
                             "allowed: measured, table")
        if self.first_rung_latency == "table" and self.name == "flat":
            raise ValueError("search.schedule.first_rung_latency: table is for a multi-fidelity "
                             "schedule (flat has no rungs; latency.mode: table predicts every "
                             "candidate)")
        if self.budget < 0:
            raise ValueError(f"search.schedule.budget must be >= 0 (0: flat's), got "
                             f"{self.budget}")

    @property
    def multi_fidelity(self) -> bool:
        return self.name != "flat"


@dataclass(frozen=True)
class KDRange:
    """A KD hyper-parameter the akd arm searches: ``levels`` values from ``low`` to ``high``
    (evenly spaced, or evenly in log space with ``log``), one more categorical decision."""

    low: float
    high: float
    log: bool = False
    levels: int = 8

    def check(self, key: str, low_ok, high_ok, allowed: str) -> None:
        if not (low_ok(self.low) and high_ok(self.high) and self.low < self.high):
            raise ValueError(f"{key} = [{self.low}, {self.high}] is invalid; allowed: low < high, "
                             f"{allowed}")
        if self.levels < 2:
            raise ValueError(f"{key}.levels must be >= 2, got {self.levels}")

    def values(self) -> list[float]:
        if self.log:
            grid = [math.exp(v) for v in _even(math.log(self.low), math.log(self.high),
                                               self.levels)]
        else:
            grid = _even(self.low, self.high, self.levels)
        return [round(v, 6) for v in grid]


def _even(low: float, high: float, levels: int) -> list[float]:
    return [low + (high - low) * i / (levels - 1) for i in range(levels)]


@dataclass(frozen=True)
class KDSearchConfig:
    """The KD hyper-parameters the akd arm searches with the architecture, as extra decisions
    after the space's (null: fixed at proxy.temperature and proxy.alpha)."""

    temperature: KDRange | None = option(None, help="e.g. {low: 1, high: 20, log: true, levels: 8}")
    alpha: KDRange | None = option(None, help="e.g. {low: 0.1, high: 1.0, levels: 10}")

    def __post_init__(self) -> None:
        if self.temperature is not None:
            self.temperature.check("search.kd.temperature", lambda v: v > 0, math.isfinite,
                                   "0 < low")
        if self.alpha is not None:
            self.alpha.check("search.kd.alpha", lambda v: v > 0, lambda v: v <= 1,
                             "0 < low, high <= 1 (alpha 0 is no KD)")

    @property
    def searched(self) -> dict[str, KDRange]:
        """The searched hyper-parameters by name, in decision order."""
        return {name: grid for name, grid in (("temperature", self.temperature),
                                              ("alpha", self.alpha)) if grid is not None}

    def choices(self) -> list[int]:
        """The number of choices of each extra decision."""
        return [grid.levels for grid in self.searched.values()]

    def decode(self, indices: list[int]) -> dict[str, float]:
        """The hyper-parameters these extra decisions choose, e.g. {"temperature": 4.8}."""
        return {name: grid.values()[i] for (name, grid), i in zip(self.searched.items(), indices)}


@dataclass(frozen=True)
class SearchConfig:
    arms: list[str] = option(factory=lambda: list(ARMS), help="which arms run: akd, nas or both")
    trials: int = option(64, help="finished candidates per arm")
    batch_size: int = option(8, help="candidates asked per step; also the LSTM's update batch M "
                                     "unless controller.options.batch_size says otherwise")
    seed: int = option(0, help="controller seed and the weight-init seed of every candidate")
    top_k: int = option(5, help="architectures shown in the summary table and TensorBoard's top "
                                "list")
    asynchronous: bool = option(False, help="ask a new candidate as soon as one finishes instead "
                                            "of waiting for the step's whole batch, so no worker "
                                            "idles (the LSTM still updates every batch_size "
                                            "results); results then depend on finishing order, so "
                                            "runs are no longer repeatable")
    max_in_flight: int = option(0, help="asynchronous: candidates being evaluated at once, all "
                                        "arms together; 0: evaluator.workers")
    screening: ScreeningConfig = option(
        factory=ScreeningConfig, help="train only the candidates a KD-accuracy predictor ranks "
                                      "highest ([Screening](screening.md))")
    kd: KDSearchConfig = option(factory=KDSearchConfig, help="KD hyper-parameters the akd arm "
                                                             "searches with the architecture")
    schedule: ScheduleConfig = option(factory=ScheduleConfig, help="flat, successive halving or "
                                                                   "Hyperband")
    max_failures: int = option(5, help="stop the search when an arm's first this many trainings of "
                                       "a session all failed, or more than max_failed_share of "
                                       "them; 0: never stop (a resume may change it)")
    max_failed_share: float = option(0.5, help="the failed share of an arm's trainings in a "
                                               "session, once it has max_failures of them, above "
                                               "which the search stops (a resume may change it)")

    def __post_init__(self) -> None:
        unknown = [arm for arm in self.arms if arm not in ARMS]
        if unknown or not self.arms or len(set(self.arms)) != len(self.arms):
            raise ValueError(f"search.arms = {self.arms!r}; allowed: a non-empty list of distinct "
                             f"arms from {', '.join(ARMS)}")
        for name in ("trials", "batch_size", "top_k"):
            if getattr(self, name) < 1:
                raise ValueError(f"search.{name} must be >= 1, got {getattr(self, name)}")
        if self.max_in_flight < 0:
            raise ValueError(f"search.max_in_flight must be >= 0, got {self.max_in_flight}")
        if self.max_in_flight and not self.asynchronous:
            raise ValueError(f"search.max_in_flight = {self.max_in_flight} limits an asynchronous "
                             "search; a synchronous one evaluates a step's batch_size at once "
                             "(set search.asynchronous: true, or leave it 0)")
        if self.max_failures < 0:
            raise ValueError(f"search.max_failures must be >= 0 (0: never stop), got "
                             f"{self.max_failures}")
        if not 0 <= self.max_failed_share <= 1:
            raise ValueError(f"search.max_failed_share must be in [0, 1], got "
                             f"{self.max_failed_share}")
        if self.screening.enabled and self.asynchronous:
            raise ValueError("search.screening ranks a whole step's candidates at once; it needs "
                             "search.asynchronous: false")
        if self.kd.searched and self.screening.enabled:
            raise ValueError("search.screening's predictor was fitted at fixed KD "
                             "hyper-parameters, so it cannot rank searched ones; use "
                             "search.kd or search.screening, not both")
        if self.schedule.tell == "per_budget" and (self.asynchronous
                                                   or not self.schedule.multi_fidelity):
            raise ValueError("search.schedule.tell: per_budget keeps a model per rung of a "
                             "synchronous successive_halving or hyperband search; use it with one "
                             "and search.asynchronous: false")
        if self.schedule.name == "hyperband" and self.asynchronous:
            raise ValueError("search.schedule hyperband runs synchronous brackets; for "
                             "search.asynchronous use successive_halving (ASHA)")
        if self.screening.enabled and self.screening.target == "top" \
                and not self.schedule.multi_fidelity:
            raise ValueError("search.screening.target: top predicts a schedule's top rung; a flat "
                             "search has one budget (target: first, or set search.schedule)")
        if self.kd.searched and not any_distills(self.arms):
            raise ValueError("search.kd: no arm of search.arms distils, so there are no KD "
                             "hyper-parameters to search; add the akd arm")


@dataclass(frozen=True)
class RewardConfig:
    target_ms: float | str = option("auto", help="target latency T of MnasNet's reward ACC * (LAT "
                                                 "/ T) ** w; auto: the target_quantile of the "
                                                 "latencies of target_samples students drawn from "
                                                 "the space (seed search.seed), measured on this "
                                                 "machine when the run starts and kept in the run "
                                                 "directory (reward_target.json), so a latency "
                                                 "target means the same on any machine")
    target_quantile: float = option(0.5, help="auto: which quantile of the sampled latencies is "
                                              "the target")
    target_samples: int = option(32, help="auto: students sampled to set it")
    constraint: str = option("soft", help="soft: w = -0.07 either side of T; hard: w = 0 below T, "
                                          "-1 above")

    def __post_init__(self) -> None:
        if self.constraint not in ("soft", "hard"):
            raise ValueError(f"reward.constraint = {self.constraint!r}; allowed: soft, hard")
        if self.target_ms != "auto" and not (isinstance(self.target_ms, (int, float))
                                             and self.target_ms > 0):
            raise ValueError(f"reward.target_ms must be a number > 0 or auto, got "
                             f"{self.target_ms!r}")
        if not 0 < self.target_quantile < 1:
            raise ValueError(f"reward.target_quantile must be in (0, 1), got "
                             f"{self.target_quantile}")
        if not (isinstance(self.target_samples, int) and self.target_samples >= 2):
            raise ValueError(f"reward.target_samples must be an integer >= 2, got "
                             f"{self.target_samples!r}")


@dataclass(frozen=True)
class EvaluatorConfig:
    backend: str = option("serial", help="serial (in this process), process (a local pool of "
                                         "workers) or ray (Ray actors, on this machine or a "
                                         "cluster)")
    workers: int = option(1, help="parallel candidate evaluations (process and ray backends)")
    threads: int = option(0, help="torch threads per worker; 0: the machine's cores divided by "
                                  "workers")
    address: str | None = option(None, help='ray: null starts a local Ray instance for the run; '
                                            '"auto" or "ray://head:10001" joins a running cluster '
                                            '(cache_dir must then be a shared path)')
    num_cpus: float = option(0, help="ray: CPUs each worker reserves; 0: its threads")
    num_gpus: float = option(0, help="ray: GPUs each worker reserves (fractions share a GPU)")

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"evaluator.backend = {self.backend!r}; allowed: "
                             f"{', '.join(BACKENDS)}")
        if self.workers < 1 or self.threads < 0:
            raise ValueError(f"evaluator.workers must be >= 1 and evaluator.threads >= 0, got "
                             f"{self.workers} and {self.threads}")
        if self.backend == "serial" and self.workers != 1:
            raise ValueError(f"evaluator.workers = {self.workers} needs evaluator.backend: "
                             "process or ray; the serial backend runs one candidate at a time")
        if self.num_cpus < 0 or self.num_gpus < 0:
            raise ValueError(f"evaluator.num_cpus and evaluator.num_gpus must be >= 0, got "
                             f"{self.num_cpus} and {self.num_gpus}")
        ray_only = [k for k in ("address", "num_cpus", "num_gpus") if getattr(self, k)]
        if ray_only and self.backend != "ray":
            raise ValueError(f"evaluator.{ray_only[0]} needs evaluator.backend: ray")

    def threads_per_worker(self) -> int:
        return self.threads or max(1, (os.cpu_count() or 1) // self.workers)


def _final_training() -> TrainConfig:
    # from scratch on the full training set, cosine schedule, replayed crops and flips; the KD
    # runs use this alpha and temperature, the CLS runs alpha = 0
    return TrainConfig(epochs=10, lr=0.1, warmup_epochs=0.5, augment_padding=2, alpha=0.9,
                       temperature=4.0)


@dataclass(frozen=True)
class FinalConfig:
    enabled: bool = option(True, help="run the final stage after the search")
    top_k: int = option(1, help="best architectures of each arm (by reward) to train from scratch")
    seeds: int = option(3, help="trainings per architecture and mode (CLS, KD), seeds 0..seeds-1")
    references: bool = option(True, help="also train the space's hand-designed student at a "
                                         "similar latency")
    train_images: int = option(0, help="train on the first N training images (0: the full training "
                                       "set)")
    test_images: int = option(0, help="test on a fixed seeded sample of N test images (0: the "
                                      "whole test split); a smaller test set is for smoke runs "
                                      "only: it widens every interval")
    training: TrainConfig = option(factory=_final_training, help="the final budget")

    def __post_init__(self) -> None:
        for name in ("top_k", "seeds"):
            if getattr(self, name) < 1:
                raise ValueError(f"final.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("train_images", "test_images"):
            if getattr(self, name) < 0:
                raise ValueError(f"final.{name} must be >= 0 (0: all of them), got "
                                 f"{getattr(self, name)}")
        if not self.training.alpha > 0:
            raise ValueError(f"final.training.alpha = {self.training.alpha} leaves the KD runs "
                             "without a teacher; use an alpha in (0, 1]")


def _proxy_training() -> TrainConfig:
    # KD with Hinton's usual T = 4 and a teacher-heavy alpha; the nas arm trains the same
    # candidates with alpha = 0. No augmentation: a short proxy run gains nothing from it.
    return TrainConfig(epochs=1, lr=0.1, alpha=0.9, temperature=4.0)


@dataclass(frozen=True)
class RunConfig:
    data: DataConfig = option(factory=DataConfig, help="dataset, validation and proxy splits")
    teacher: TeacherConfig = option(factory=TeacherConfig, help="the fixed teacher")
    space: SpaceConfig = option(factory=SpaceConfig, help="the student search space")
    controller: ControllerConfig = option(
        factory=ControllerConfig, help="search strategy")
    search: SearchConfig = option(factory=SearchConfig, help="arms, budget, seed")
    proxy: TrainConfig = option(factory=_proxy_training, help="candidate training (akd arm's "
                                                              "alpha; the nas arm uses alpha = 0), "
                                                              "evaluated on the validation split")
    reward: RewardConfig = option(factory=RewardConfig, help="MnasNet's latency-aware reward")
    latency: LatencySettings = option(
        factory=LatencySettings, help="how latency is obtained")
    evaluator: EvaluatorConfig = option(
        factory=EvaluatorConfig, help="where candidates run")
    final: FinalConfig = option(factory=FinalConfig, help="retraining the best from scratch")
    cache_dir: str | None = option(None, help="data, teachers, logits, latency; null: $AKD_CACHE, "
                                              "~/.cache/akd")
    progress: bool = option(True, help="tqdm progress bars")

    def __post_init__(self) -> None:
        for key, name, known in (("space.name", self.space.name, available_spaces()),
                                 ("controller.name", self.controller.name,
                                  available_controllers())):
            if name not in known:
                raise ValueError(f"{key} = {name!r}; allowed: {', '.join(known)}")
        for section, training in (("proxy", self.proxy), ("teacher.training",
                                  self.teacher.training), ("final.training", self.final.training)):
            training.check(section)
            if training.patience and section != "final.training":
                raise ValueError(f"{section}.patience = {training.patience}: only the final "
                                 "stage trains to convergence (final.training.patience); the "
                                 "search's candidates train for a fixed budget, so that their "
                                 "rewards compare")
        if self.search.schedule.tell == "per_budget" and self.controller.name not in ("tpe", "gp"):
            raise ValueError(f"search.schedule.tell: per_budget is BOHB's model per rung, which "
                             f"the tpe and gp controllers keep; controller.name = "
                             f"{self.controller.name!r} learns one value per candidate (tell: "
                             "rank or raw)")
        if self.latency.where == "worker" and self.evaluator.backend != "ray":
            raise ValueError("latency.where: worker runs on Ray; it needs evaluator.backend: ray")
        if self.search.schedule.first_rung_latency == "table" and (
                self.latency.where == "worker" or self.latency.mode == "table"):
            raise ValueError("search.schedule.first_rung_latency: table predicts the first rung "
                             "with the lookup table in this process and measures the promoted; it "
                             "needs latency.where: driver and latency.mode: measured")
        if any_distills(self.search.arms) and not self.proxy.alpha > 0:
            raise ValueError(f"proxy.alpha = {self.proxy.alpha} leaves the akd arm without KD; "
                             "use an alpha in (0, 1] or search.arms: [nas]")

    def to_dict(self) -> dict:
        """Plain YAML/JSON-safe values (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))


# Keys (or whole sections) a resumed run may change: they decide where and how fast, or when to
# give up, not what is searched (the final stage reads the search's files, so it may be changed
# and re-run on a finished search).
RESUMABLE_CHANGES = ("evaluator", "progress", "final", "search.max_failures",
                     "search.max_failed_share")


def load_config(path: str | os.PathLike | None = None, overrides: typing.Sequence[str] = ()
                ) -> RunConfig:
    """The config from YAML file ``path`` (None: all defaults) with ``key.path=value`` overrides."""
    values: dict = {}
    if path is not None:
        values = _read_yaml(Path(path))
    for line in overrides:
        key, value = parse_override(line)
        _assign(values, key.split("."), value)
    return config_from_dict(values)


def load_config_and_section(path: str | os.PathLike, overrides: typing.Sequence[str],
                            section: str) -> tuple[RunConfig, dict]:
    """The config of YAML file ``path`` with overrides, and its extra top-level ``section`` (the
    own settings of a command built on runs, e.g. a study's) as a plain mapping; overrides of
    ``section.key`` go to the section."""
    values = _read_yaml(Path(path))
    own = values.pop(section, None) or {}
    if not isinstance(own, dict):
        raise ConfigError(f"config file {path}: {section} must be a mapping, got {own!r}")
    for line in overrides:
        key, value = parse_override(line)
        keys = key.split(".")
        _assign(own if keys[0] == section else values, keys[1:] if keys[0] == section else keys,
                value)
    return config_from_dict(values), own


def with_changes(config: RunConfig, changes: dict[str, Any]) -> RunConfig:
    """``config`` with dotted keys set (``{"search.seed": 1}``), checked as a loaded config is."""
    values = config.to_dict()
    for key, value in changes.items():
        _assign(values, key.split("."), value)
    return config_from_dict(values)


def parse_override(line: str, flag: str = "--set", example: str = "search.trials=16"
                   ) -> tuple[str, object]:
    """``key.path=value`` as its key and its YAML value (a one-line error naming ``flag``)."""
    key, sep, text = line.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"{flag} {line!r}: expected key.path=value, e.g. {example}")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        value = text  # a plain string the YAML parser dislikes, e.g. "a: b"
    return key.strip(), value


def available_presets() -> list[str]:
    return sorted(path.stem for path in PRESETS.glob("*.yaml"))


def config_path(name: str | os.PathLike) -> Path:
    """A YAML file, or the preset of that name (``quick``, ``demo``...) when no such file
    exists."""
    path = Path(name)
    if not path.suffix and not path.exists():
        path = PRESETS / f"{path}.yaml"
    return path


def config_from_dict(values: dict) -> RunConfig:
    _check_keys(RunConfig, values, "")
    # onto the defaults, so that a section given in part keeps the rest of *its* defaults (the
    # teacher's and the proxy's training differ from a bare TrainConfig)
    merged = _merge(RunConfig().to_dict(), values)
    try:
        return dacite.from_dict(RunConfig, merged, config=_DACITE)
    except dacite.WrongTypeError as error:
        expected = getattr(error.field_type, "__name__", str(error.field_type))
        raise ConfigError(f"config key {error.field_path} = {error.value!r} has the wrong type; "
                          f"expected {expected}") from None
    except dacite.DaciteError as error:
        raise ConfigError(f"config: {error}") from None
    except (ValueError, TypeError) as error:
        raise ConfigError(f"config: {error}") from None


def save_config(config: RunConfig, path: Path) -> None:
    write_text(path, yaml.safe_dump(config.to_dict(), sort_keys=False))


def cache_dir(config: RunConfig) -> Path:
    """Where data, teachers, logits and latencies are kept: ``cache_dir``, else the default."""
    return Path(config.cache_dir) if config.cache_dir else default_cache_dir()


def search_changes(saved: RunConfig, new: RunConfig) -> list[str]:
    """Keys whose change would alter the search (everything but RESUMABLE_CHANGES)."""
    before, after = _flatten(saved.to_dict()), _flatten(new.to_dict())
    return sorted(key for key in before.keys() | after.keys()
                  if before.get(key) != after.get(key)
                  and not any(key == allowed or key.startswith(allowed + ".")
                              for allowed in RESUMABLE_CHANGES))


def _read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist; name a YAML file or a "
                          f"preset ({', '.join(available_presets())})")
    try:
        values = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"config file {path} is not valid YAML: "
                          f"{' '.join(str(error).split())}") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ConfigError(f"config file {path} must hold a mapping of sections, got "
                          f"{type(values).__name__}")
    return values


def _assign(values: dict, keys: list[str], value: Any) -> None:
    node = values
    for i, key in enumerate(keys[:-1]):
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set {'.'.join(keys)}: {'.'.join(keys[:i + 1])} is not a section")
        node = child
    node[keys[-1]] = value


def _check_keys(cls: type, values: Any, prefix: str) -> None:
    if not isinstance(values, dict):
        raise ConfigError(f"config key {prefix.rstrip('.') or '<root>'} must be a mapping of "
                          f"{cls.__name__} fields, got {values!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key, value in values.items():
        if key not in names:
            raise ConfigError(f"unknown config key {prefix}{key}; valid keys"
                              f"{' under ' + prefix.rstrip('.') if prefix else ''}: "
                              f"{', '.join(names)}")
        if dataclasses.is_dataclass(hints[key]):
            _check_keys(hints[key], value, f"{prefix}{key}.")


def _merge(base: dict, update: dict) -> dict:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            value = _merge(base[key], value)
        merged[key] = value
    return merged


def _flatten(values: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _int_as_float(value: Any) -> Any:
    # YAML reads "1" as an int; a float field should take it
    return float(value) if type(value) is int else value


_DACITE = dacite.Config(strict=True, cast=[tuple], type_hooks={float: _int_as_float})
