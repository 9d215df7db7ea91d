"""Screening a step's candidates with a KD-accuracy predictor (``search.screening``).

With ``factor`` F an arm's controller is asked F times the step's batch; the predictor
(:class:`akd.search.screener.Screener`) predicts every candidate's accuracy, the reward follows
from it and the candidate's measured latency, and only the batch with the highest predicted
reward is trained. The others are told their predicted reward and recorded with status
``predicted``; they never count as trainings, so ``search.trials`` stays the number of trainings.

The predictor starts from a benchmark table (:mod:`akd.tables`) when one of this dataset and
space is available: the table's teachers enter through their embeddings (computed here from their
shipped or cached weights, never trained for this), and the run's teacher through its own, so a
teacher the table never saw is still placed among them. Without a table it learns from the run's
first ``warmup`` trainings, which are not screened.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import torch
import yaml

from search_spaces import SearchSpace, count_cost

from ..arms import arm_kind
from ..config import RunConfig, cache_dir, config_from_dict
from ..data import load_dataset
from ..distill import load_teacher
from ..errors import AkdError, ConfigError
from ..execution import Workspace
from ..predict import LABELS, teacher_embedding
from ..predict.probes import EMBEDDING_IMAGES
from ..tables import LADDER_FILE, SHIPPED, TABLE_FILE, load_ladder, load_table, table_path
from .screener import RUN_MODE, Screener

log = logging.getLogger(__name__)


def build_screeners(config: RunConfig, space: SearchSpace, work: Workspace) -> dict[str, Screener]:
    """One screener per arm of ``config`` (none without screening); writes nothing."""
    screening = config.search.screening
    if not screening.enabled:
        return {}
    found = find_table(config)
    records: list[dict] = []
    embeddings: dict[str, np.ndarray] = {}
    temperature = config.proxy.temperature
    images = work.dataset.proxy.subset(torch.arange(min(EMBEDDING_IMAGES,
                                                        len(work.dataset.proxy))))
    if found is not None:
        path, table_config = found
        # to predict a schedule's top rung, the prior is a ladder's top rung (a long training)
        table = load_ladder(path).at(-1) if top_target(config) else load_table(path)
        temperature = table_config.proxy.temperature  # the table's embeddings and the run's alike
        embeddings = _table_embeddings(config, table_config, table.teachers, images,
                                       temperature)
        records = [r for r in table if r["mode"] == LABELS or r["mode"] in embeddings]
        log.info(f"screening: the predictor starts from {path} ({len(records)} trainings of "
                 f"{len(table.archs)} students; teachers {', '.join(embeddings) or 'none'}) and "
                 "is refitted on this run's trainings")
    else:
        reason = ("search.screening.table: null" if screening.table is None else
                  f"no benchmark table for {config.data.name} and this space")
        log.info(f"screening: {reason}; the predictor learns from each arm's first "
                 f"{warmup(config)} trainings")
    if work.teacher is not None:
        embeddings[RUN_MODE] = teacher_embedding(work.teacher.model, images.images,
                                                 images.labels, work.dataset.num_classes,
                                                 temperature)
    return {arm: Screener(space, RUN_MODE if arm_kind(arm).distills else LABELS,
                          screening.model, records, embeddings, warmup(config))
            for arm in config.search.arms}


def top_target(config: RunConfig) -> bool:
    """Whether the predictor predicts the schedule's top rung (else the lowest rung)."""
    return config.search.screening.target == "top"


def warmup(config: RunConfig) -> int:
    screening = config.search.screening
    return screening.warmup or screening.factor * config.search.batch_size


def find_table(config: RunConfig) -> tuple[Path, RunConfig] | None:
    """The table screening starts from with its config: the one ``search.screening.table``
    names (ConfigError when it does not fit this run), with ``auto`` a shipped table of this
    dataset and space, or None; a ladder (its file) when the predictor targets the top rung."""
    wanted = config.search.screening.table
    file, kind = (LADDER_FILE, "ladder") if top_target(config) else (TABLE_FILE, "table")
    if wanted is None:
        return None
    if wanted == "auto":
        for directory in sorted(SHIPPED.iterdir()) if SHIPPED.is_dir() else []:
            path = table_path(directory, file)
            if path.is_file():
                table_config = _table_config(path)  # read once: checked, then returned
                if _mismatch(config, table_config) is None:
                    return path, table_config
        return None
    path = table_path(wanted, file)
    if not path.is_file():
        target = " (search.screening.target: top predicts from a ladder)" if kind == "ladder" \
            else ""
        raise ConfigError(f"search.screening.table = {wanted!r}: no such {kind} file or shipped "
                          f"{kind}{target}")
    table_config = _table_config(path)
    mismatch = _mismatch(config, table_config)
    if mismatch:
        raise ConfigError(f"search.screening.table = {wanted!r} was built {mismatch}; use a "
                          "table of this run's dataset and space, auto or null")
    return path, table_config


def candidate_cost(arch: str, work: Workspace) -> dict:
    """Params and MACs of a candidate without training it (fvcore; about 0.15 s)."""
    cost = count_cost(arch, work.dataset.input_size, work.dataset.num_classes)
    return {"params": cost.params, "macs": cost.macs}


def _table_config(path: Path) -> RunConfig:
    beside = path.parent / "config.yaml"
    if not beside.is_file():
        raise ConfigError(f"benchmark table {path} has no config.yaml beside it; screening needs "
                          "the dataset and space it was built on")
    try:
        return config_from_dict(yaml.safe_load(beside.read_text()) or {})
    except AkdError as error:
        raise ConfigError(f"{beside}: {error}") from None


def _mismatch(config: RunConfig, table_config: RunConfig) -> str | None:
    """How the table's dataset or space differs from the run's, in words; None when alike."""
    if table_config.data.name != config.data.name:
        return f"on {table_config.data.name}, not {config.data.name}"
    if dataclasses.asdict(table_config.space) != dataclasses.asdict(config.space):
        return (f"on the space {table_config.space.name} {table_config.space.preset} "
                f"{table_config.space.options or ''}, not this run's".replace("  ", " "))
    return None


def _table_embeddings(config: RunConfig, table_config: RunConfig, teachers: list[str], images,
                      temperature: float) -> dict[str, np.ndarray]:
    """The embedding of each of the table's teachers whose weights are here (shipped, or in
    this run's cache); a teacher that would have to be trained is left out, with its records."""
    cache = cache_dir(config)
    dataset = load_dataset(dataclasses.replace(table_config.data, root=config.data.root), cache)
    embeddings = {}
    for name in teachers:
        try:
            teacher = load_teacher(dataclasses.replace(table_config.teacher, name=name), dataset,
                                   cache, progress=False, train=False)
        except AkdError as error:
            log.warning(f"screening: the table's {name} records are left out ({error})")
            continue
        embeddings[name] = teacher_embedding(teacher.model, images.images, images.labels,
                                             dataset.num_classes, temperature)
    return embeddings
