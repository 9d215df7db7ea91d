"""How well the KD-accuracy predictor ranks students it has not seen, on the benchmark table.

* **Held-out architectures** (k-fold over students): fitted on every mode of the other folds'
  students, scored per teacher on the held-out ones: Spearman, Kendall, and the precision of the
  top 10% (the share of the truly best 10% that the predicted best 10% holds).
* **A held-out teacher**: fitted on the other modes (labels only and the other teachers) of the
  training folds, plus ``k`` measured students of the new teacher (0, 5, 20), so the teacher's
  embedding is all it knows of it at ``k = 0``.
* **Baselines**: params, MACs, and the zero-cost proxies synflow and grad-norm (of the KD loss),
  scored the same way; and the table's noise ceiling (seed-to-seed Spearman of each KD mode), the
  best a predictor of one seed's accuracy can hope for.
* **Ablation**: each input switched off in turn.

The probes (teacher embeddings, each student's zero-cost probe against each teacher) need the
dataset and the teachers; they are computed once and cached in the output directory.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from search_spaces import SearchSpace, build_model

from akd.common import check_out, kendall, read_json, spearman, write_json
from akd.config import RunConfig, cache_dir
from akd.data import load_dataset
from akd.distill import load_teacher
from akd.predict import (EMBEDDING_IMAGES, LABELS, PARTS, PROBE_FIELDS, KDPredictor, student_probe,
                         synflow, teacher_embedding)

from .table import Table
from .table.analysis import noise_ceiling, top_overlap

log = logging.getLogger(__name__)

PROBE_IMAGES = 64  # proxy images the student probes run on: one batch, about 0.5 s a probe
FOLDS = 5
ADAPTATION = (0, 5, 20)


def compute_probes(config: RunConfig, table: Table, path: Path,
                   progress: bool = True) -> dict:
    """Teacher embeddings and per (student, mode) probe vectors, read from ``path`` or computed
    (on the first proxy images, which every student trains on) and written there; a killed
    computation goes on from its partial file."""
    if path.exists():
        return read_json(path, ("probes",))
    partial = path.with_name(path.stem + ".partial.json")
    dataset = load_dataset(config.data, cache_dir(config))
    probe = dataset.proxy.subset(torch.arange(min(PROBE_IMAGES, len(dataset.proxy))))
    wide = dataset.proxy.subset(torch.arange(min(EMBEDDING_IMAGES, len(dataset.proxy))))
    torch.manual_seed(0)
    embeddings, logits = {}, {LABELS: None}
    for mode in table.teachers:
        teacher = load_teacher(dataclasses.replace(config.teacher, name=mode), dataset,
                               cache_dir(config), progress=progress).model
        embeddings[mode] = teacher_embedding(teacher, wide.images, wide.labels,
                                             dataset.num_classes, config.proxy.temperature).tolist()
        with torch.no_grad():
            logits[mode] = teacher(probe.images)
    probes = json.loads(partial.read_text()) if partial.exists() else {}
    flows: dict[str, float] = {}  # synflow is data-free: one per student, whatever the mode
    pairs = [(arch, mode) for arch in table.archs for mode in table.modes
             if f"{mode}|{arch}" not in probes]
    for done, (arch, mode) in enumerate(tqdm(pairs, desc="probes", unit="probe",
                                             disable=not progress), start=1):
        torch.manual_seed(0)
        model = build_model(arch, dataset.num_classes, dataset.input_size[0])
        if arch not in flows:
            flows[arch] = synflow(model, probe.images.shape[1:])
        probes[f"{mode}|{arch}"] = student_probe(
            model, probe.images, probe.labels, logits[mode], config.proxy.temperature,
            config.proxy.alpha, flow=flows[arch]).tolist()
        if done % 100 == 0:
            write_json(partial, probes)
    result = {"fields": list(PROBE_FIELDS), "teachers": embeddings, "probes": probes}
    write_json(path, result)
    partial.unlink(missing_ok=True)
    return result


def _predictor(space: SearchSpace, probes: dict, model: str, parts: Sequence[str]) -> KDPredictor:
    teachers = {k: np.array(v) for k, v in probes["teachers"].items()}
    return KDPredictor(space, teachers, model=model, parts=parts,
                       probe=lambda arch, mode: np.array(probes["probes"][f"{mode}|{arch}"]))


def _scores(predicted: Sequence[float], actual: Sequence[float]) -> dict:
    return {"n": len(actual), "spearman": spearman(predicted, actual),
            "kendall": kendall(predicted, actual),
            "top10_precision": top_overlap(list(predicted), list(actual))}


def _folds(archs: Sequence[str], folds: int, seed: int = 0) -> list[set[str]]:
    order = np.random.default_rng(seed).permutation(len(archs))
    return [{archs[i] for i in part} for part in np.array_split(order, folds)]


def _truth(table: Table, mode: str, archs: set[str]) -> dict[str, dict]:
    """Per held-out student of ``mode``: its mean accuracy and one record (for its costs)."""
    means = table.filter(mode=mode).accuracy()
    first = {r["arch"]: r for r in table.filter(mode=mode)}
    return {a: {"acc": means[a], "record": first[a]} for a in archs if a in means}


def held_out_architectures(table: Table, space: SearchSpace, probes: dict, model: str,
                           parts: Sequence[str], folds: int = FOLDS) -> dict:
    """k-fold over students: per teacher, the scores of the pooled held-out predictions."""
    predicted: dict[str, list[float]] = {t: [] for t in table.teachers}
    actual: dict[str, list[float]] = {t: [] for t in table.teachers}
    for held in _folds(table.archs, folds):
        train = [r for r in table if r["arch"] not in held]
        predictor = _predictor(space, probes, model, parts).fit(train)
        for teacher in table.teachers:
            truth = _truth(table, teacher, held)
            archs = list(truth)
            predicted[teacher] += list(predictor.predict(
                archs, teacher, [truth[a]["record"] for a in archs]))
            actual[teacher] += [truth[a]["acc"] for a in archs]
    return {t: _scores(predicted[t], actual[t]) for t in table.teachers}


def held_out_teacher(table: Table, space: SearchSpace, probes: dict, model: str,
                     parts: Sequence[str], shots: Sequence[int] = ADAPTATION,
                     folds: int = FOLDS) -> dict:
    """Per teacher and ``k`` in ``shots``: fitted without that teacher's records except ``k``
    of its training-fold students, scored on its held-out students."""
    out = {}
    for teacher in table.teachers:
        for k in shots:
            predicted, actual = [], []
            for fold, held in enumerate(_folds(table.archs, folds)):
                others = [r for r in table if r["arch"] not in held and r["mode"] != teacher]
                seen = [a for a in table.archs if a not in held]
                chosen = set(np.random.default_rng(fold).permutation(seen)[:k]) if k else set()
                shots_records = [r for r in table.filter(mode=teacher) if r["arch"] in chosen]
                predictor = _predictor(space, probes, model, parts).fit(others + shots_records)
                truth = _truth(table, teacher, held)
                archs = list(truth)
                predicted += list(predictor.predict(archs, teacher,
                                                    [truth[a]["record"] for a in archs]))
                actual += [truth[a]["acc"] for a in archs]
            out[f"{teacher}@{k}"] = _scores(predicted, actual)
    return out


def baselines(table: Table, probes: dict) -> dict:
    """Per teacher, how params, MACs, synflow and grad-norm (against that teacher) rank its
    students' mean accuracy."""
    out = {}
    fields = probes["fields"]
    for teacher in table.teachers:
        truth = _truth(table, teacher, set(table.archs))
        archs = list(truth)
        actual = [truth[a]["acc"] for a in archs]
        scores = {"params": [truth[a]["record"]["params"] for a in archs],
                  "macs": [truth[a]["record"]["macs"] for a in archs]}
        for name in ("log_synflow", "log_grad_norm"):
            column = fields.index(name)
            scores[name] = [probes["probes"][f"{teacher}|{a}"][column] for a in archs]
        out[teacher] = {name: _scores(s, actual) for name, s in scores.items()}
    return out


def run_benchmark(config: RunConfig, table: Table, space: SearchSpace, out: Path,
                  models: Sequence[str] = ("neural", "trees")) -> dict:
    """Everything above, written to ``out/predictor.json``; the results."""
    out = check_out(out, ("probes.json", "probes.partial.json", "predictor.json"),
                    "a predictor benchmark")
    out.mkdir(parents=True, exist_ok=True)
    seconds = {}
    start = time.perf_counter()
    probes = compute_probes(config, table, out / "probes.json", progress=config.progress)
    seconds["probes"] = time.perf_counter() - start
    ceiling = {t: noise_ceiling(table, t)["spearman"] for t in table.teachers}
    result = {"students": len(table.archs), "teachers": table.teachers,
              "noise_ceiling": ceiling, "mean_ceiling": {t: mean_ceiling(r, len(table.seeds(t)))
                                                         for t, r in ceiling.items()},
              "baselines": baselines(table, probes), "held_out_architectures": {},
              "held_out_teacher": {}, "ablation_model": models[-1], "ablation": {},
              "seconds": seconds}
    start = time.perf_counter()
    for model in tqdm(models, desc="models", disable=not config.progress):
        result["held_out_architectures"][model] = held_out_architectures(
            table, space, probes, model, PARTS)
        result["held_out_teacher"][model] = held_out_teacher(table, space, probes, model, PARTS)
    seconds["models"] = time.perf_counter() - start
    start = time.perf_counter()
    for part in tqdm(PARTS, desc="ablation", disable=not config.progress):
        kept = [p for p in PARTS if p != part]
        result["ablation"][f"without {part}"] = held_out_architectures(
            table, space, probes, models[-1], kept)
    seconds["ablation"] = time.perf_counter() - start
    write_json(out / "predictor.json", result)
    return result


def mean_ceiling(seed_correlation: float | None, seeds: int) -> float | None:
    """The highest correlation any predictor can reach with the mean of ``seeds`` trainings when
    one training correlates ``seed_correlation`` with another: the square root of the mean's
    reliability (Spearman-Brown, ``k r / (1 + (k - 1) r)``)."""
    if seed_correlation is None or seed_correlation <= 0:
        return None
    r = seed_correlation
    return math.sqrt(seeds * r / (1 + (seeds - 1) * r))
