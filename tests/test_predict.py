"""The KD-accuracy predictor: it learns a planted rule from a hand-made table, its state
round-trips with weights_only, the probes are finite, and it refuses what it cannot know."""

import io

import numpy as np
import pytest
import torch

from search_spaces import build_model, get_space

from akd.common.stats import spearman
from akd.predict import (KDPredictor, NeuralPredictor, TreePredictor, student_probe, synflow,
                         teacher_embedding)
from akd.predict.models import pairwise_ranking_loss

SPACE = get_space("mnasnet", preset="small28")
TEACHERS = {"vgg": np.array([0.2, 0.8, 0.1]), "resnet": np.array([0.7, 0.3, 0.9])}


def planted_records(n=120, seed=0):
    """Accuracy rises with the first stage's op index and, with KD from vgg only, with the
    kernel of the second: a rule the teacher's embedding has to switch on."""
    rng = np.random.default_rng(seed)
    records = []
    for _ in range(n):
        decisions = SPACE.sample(rng)
        arch = str(SPACE.decode(decisions))
        for mode in ("cls", "vgg", "resnet"):
            acc = 0.5 + 0.05 * decisions[0] + (0.06 * decisions[7] if mode == "vgg" else 0.0)
            records.append({"arch": arch, "decisions": decisions, "mode": mode, "seed": 0,
                            "status": "ok", "val_acc": acc + rng.normal(0, 0.003),
                            "params": 1000 + 10 * decisions[3], "macs": 20000 + decisions[4],
                            "latency_ms": 1.0 + 0.1 * decisions[5]})
    return records


@pytest.mark.parametrize("model", ["neural", "trees"])
def test_it_learns_a_planted_rule_on_held_out_students(model):
    records = planted_records()
    train, test = records[:270], records[270:]  # 90 students to fit, 30 unseen
    predictor = KDPredictor(SPACE, TEACHERS, model=model, parts=("decisions", "blocks", "cost",
                                                                 "teacher"))
    predictor.fit(train)
    for mode in ("cls", "vgg", "resnet"):
        rows = [r for r in test if r["mode"] == mode]
        predicted = predictor.predict([r["arch"] for r in rows], mode, rows)
        assert spearman(predicted, [r["val_acc"] for r in rows]) > 0.8, mode


def test_the_state_round_trips_with_weights_only():
    records = planted_records(n=40)
    for model in ("neural", "trees"):
        predictor = KDPredictor(SPACE, TEACHERS, model=model,
                                parts=("decisions", "cost", "teacher")).fit(records)
        buffer = io.BytesIO()
        torch.save(predictor.state_dict(), buffer)
        buffer.seek(0)
        again = KDPredictor(SPACE, {}, model="neural", parts=("decisions",))
        again.load_state_dict(torch.load(buffer, weights_only=True))
        rows = records[:9]
        assert np.allclose(again.predict([r["arch"] for r in rows], "vgg", rows),
                           predictor.predict([r["arch"] for r in rows], "vgg", rows))


def test_it_refuses_another_space_an_unknown_teacher_and_a_bad_input():
    predictor = KDPredictor(SPACE, TEACHERS, parts=("decisions", "teacher"))
    predictor.fit(planted_records(n=10))
    cost = {"params": 1, "macs": 1, "latency_ms": 1}
    with pytest.raises(ValueError, match="not an architecture of the mnasnet space"):
        predictor.predict(["cn_r1_k3_s1_c8|cn_r1_k1_s1_c32"], "vgg", [cost])
    arch = str(SPACE.decode(SPACE.sample(0)))
    with pytest.raises(ValueError, match="no embedding for teacher 'wide'"):
        predictor.predict([arch], "wide", [cost])
    with pytest.raises(ValueError, match="unknown predictor input 'flops'"):
        KDPredictor(SPACE, TEACHERS, parts=("flops",))
    with pytest.raises(ValueError, match="needs a probe function"):
        KDPredictor(SPACE, TEACHERS, parts=("probe",))
    other = KDPredictor(get_space("mnasnet", preset="imagenet224"), TEACHERS,
                        parts=("decisions",))
    with pytest.raises(ValueError, match="for another mnasnet space"):
        other.load_state_dict(predictor.state_dict())
    # without the cost input, predict(architectures, teacher) needs nothing more
    assert predictor.predict([arch], "vgg").shape == (1,)
    costly = KDPredictor(SPACE, TEACHERS, model="trees", parts=("decisions", "cost"))
    costly.fit(planted_records(n=10))
    with pytest.raises(ValueError, match="pass costs"):
        costly.predict([arch], "vgg")


def test_the_ranking_loss_by_hand():
    predicted = torch.tensor([0.0, 1.0, 3.0])
    targets = torch.tensor([0.2, 0.1, 0.3])  # pairs (i beats j): 0>1, 2>0, 2>1
    expected = np.mean([np.log1p(np.exp(-(0 - 1))), np.log1p(np.exp(-(3 - 0))),
                        np.log1p(np.exp(-(3 - 1)))])
    assert float(pairwise_ranking_loss(predicted, targets)) == pytest.approx(expected)
    assert float(pairwise_ranking_loss(predicted, torch.ones(3))) == 0.0  # ties: no pair


def test_probes_are_finite_and_leave_the_model_as_it_was():
    torch.manual_seed(0)
    arch = SPACE.decode(SPACE.sample(1))
    model = build_model(arch, num_classes=10, in_channels=1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    images, labels = torch.randn(32, 1, 28, 28), torch.randint(0, 10, (32,))
    teacher = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    with torch.no_grad():
        logits = teacher(images)
    probe = student_probe(model, images, labels, logits)
    assert probe.shape == (5,) and np.isfinite(probe).all()
    assert probe[2] > 0 and probe[4] < 1  # a KD loss, and a relative drop
    assert np.isfinite(student_probe(model, images, labels, None)).all()  # labels only
    assert synflow(model, images.shape[1:]) > 0
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    embedding = teacher_embedding(teacher, images, labels, 10)
    assert embedding.shape == (102,)
    rows = embedding[:100].reshape(10, 10)
    present = [c for c in range(10) if (labels == c).any()]
    assert np.allclose(rows[present].sum(1), 1.0) and 0 < embedding[100] <= 1


def test_models_need_examples():
    for model in (NeuralPredictor(), TreePredictor()):
        with pytest.raises(ValueError, match="at least one example"):
            model.fit([])
