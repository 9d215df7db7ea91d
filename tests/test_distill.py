"""KD loss, augmentation replay, the trainer and its failure reporting."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from search_spaces import build_model

from akd import kd_loss
from akd.data import Split, apply_augment, augment_params
from akd.distill import TrainConfig, train


def test_kd_loss_matches_hand_computation():
    student = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 1.0]])
    teacher = torch.tensor([[1.0, 1.0, 0.0], [0.0, 2.0, 0.0]])
    targets = torch.tensor([0, 2])
    T, alpha = 2.0, 0.7
    ce = sum(-math.log(math.exp(student[i, targets[i]]) / sum(math.exp(v) for v in student[i]))
             for i in range(2)) / 2

    def softmax(row):
        exps = [math.exp(v / T) for v in row]
        return [e / sum(exps) for e in exps]

    kl = sum(sum(p * math.log(p / q) for p, q in zip(softmax(teacher[i]), softmax(student[i])))
             for i in range(2)) / 2
    expected = (1 - alpha) * ce + alpha * T * T * kl
    assert kd_loss(student, teacher, targets, temperature=T, alpha=alpha).item() == pytest.approx(
        expected, rel=1e-6)


def test_alpha_zero_is_cross_entropy():
    student, targets = torch.randn(8, 10), torch.randint(0, 10, (8,))
    assert torch.equal(kd_loss(student, None, targets, alpha=0.0),
                       F.cross_entropy(student, targets))
    assert torch.allclose(kd_loss(student, torch.randn(8, 10), targets, alpha=0.0),
                          F.cross_entropy(student, targets))


def test_kd_loss_is_zero_soft_term_when_student_equals_teacher():
    logits, targets = torch.randn(4, 5), torch.randint(0, 5, (4,))
    assert kd_loss(logits, logits, targets, alpha=1.0).abs().item() < 1e-6


@pytest.mark.parametrize("kwargs, message", [
    (dict(alpha=1.5), r"alpha must be in \[0, 1\], got 1.5"),
    (dict(temperature=0.0), r"temperature must be > 0"),
    (dict(alpha=0.5, teacher=None), r"alpha = 0.5 needs teacher logits"),
])
def test_kd_loss_rejects_bad_arguments(kwargs, message):
    teacher = kwargs.pop("teacher", torch.zeros(2, 3))
    with pytest.raises(ValueError, match=message):
        kd_loss(torch.zeros(2, 3), teacher, torch.tensor([0, 1]), **kwargs)


def test_augmentation_replays_per_image_whatever_the_batch():
    images = torch.randn(50, 1, 8, 8)
    params = augment_params(50, seed=3, padding=2)
    whole = apply_augment(images, params, torch.arange(50))
    picked = torch.tensor([7, 3, 42])
    assert torch.equal(apply_augment(images[picked], params, picked), whole[picked])
    assert not torch.equal(whole, images)
    assert torch.equal(augment_params(50, 3, 2).offsets, params.offsets)


def _blobs(n: int, seed: int) -> Split:
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 3, (n,), generator=generator)
    images = torch.randn(n, 1, 8, 8, generator=generator) * 0.5
    images[:, :, :4, :4] += labels[:, None, None, None].float()  # class shows in one corner
    return Split(images, labels)


def test_trainer_learns_and_is_seeded():
    config = TrainConfig(epochs=3, batch_size=32, lr=0.05)
    results = []
    for _ in range(2):
        torch.manual_seed(0)  # weight init is the builder's; the trainer seeds the rest
        model = build_model("cn_r1_k3_s1_c8|cn_r1_k3_s2_c16", num_classes=3, in_channels=1)
        results.append(train(model, _blobs(384, 0), _blobs(200, 1), config))
    assert results[0].status == "ok" and results[0].accuracy > 0.8
    assert results[0].accuracy == results[1].accuracy


def test_the_learning_curve_is_recorded_without_changing_the_training():
    """Per epoch: the loss of each run of curve_every steps (the last run shorter) and the
    validation accuracy; the weights and the final accuracy are those of a training without it."""
    def trained(every, alpha=0.0, teacher=None):
        torch.manual_seed(0)
        model = build_model("cn_r1_k3_s1_c8|cn_r1_k3_s2_c16", num_classes=3, in_channels=1)
        result = train(model, _blobs(320, 0), _blobs(64, 1),  # 10 steps an epoch
                       TrainConfig(epochs=3, batch_size=32, lr=0.05, alpha=alpha),
                       teacher=teacher, curve_every=every)
        return result, torch.cat([p.detach().flatten() for p in model.parameters()])

    plain, weights = trained(0)
    result, curved = trained(4)
    assert plain.curve is None and torch.equal(weights, curved)
    assert result.accuracy == plain.accuracy
    curve = result.curve
    assert curve.loss_every == 4 and len(curve.val_acc) == 3 and curve.val_acc[-1] == plain.accuracy
    assert [len(epoch) for epoch in curve.train_loss] == [3, 3, 3]  # 4 + 4 + 2 steps
    assert curve.train_ce == curve.train_loss  # labels only: the objective is the CE
    assert curve.train_loss[-1][-1] < curve.train_loss[0][0]  # it learned

    def confident(epoch, index, batch):  # a teacher whose soft targets are not the labels'
        return torch.ones(len(batch), 3) * torch.arange(3.0)

    distilled, _ = trained(4, alpha=0.9, teacher=confident)
    kd = distilled.curve
    assert kd.train_ce != kd.train_loss and all(v > 0 for epoch in kd.train_ce for v in epoch)
    with pytest.raises(ValueError, match="curve_every must be an integer >= 0"):
        trained(-1)


def test_a_training_cut_at_an_epoch_and_continued_is_the_uninterrupted_one():
    """A rung of a multi-fidelity search stops a training part-way through its schedule and a
    promotion continues it later, in another process, from the saved weights and state: the
    weights must be exactly those of one training through (KD, augmentation and the batch
    order included), and the stop point's accuracy that of the same training at that epoch."""
    config = TrainConfig(epochs=4, batch_size=32, lr=0.05, alpha=0.9, augment_padding=2)

    def teacher(epoch, index, batch):
        return batch.flatten(1)[:, :3] * 3

    def fresh():
        torch.manual_seed(0)
        return build_model("cn_r1_k3_s1_c8|cn_r1_k3_s2_c16", num_classes=3, in_channels=1)

    def flat(model):
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    whole = fresh()
    through = train(whole, _blobs(160, 0), _blobs(64, 1), config, teacher=teacher)
    assert through.state is None
    part = fresh()
    first = train(part, _blobs(160, 0), _blobs(64, 1), config, teacher=teacher, until=1)
    assert first.state["epoch"] == 1 and not torch.equal(flat(part), flat(whole))
    # a promotion in another worker: a new model with the saved weights, the state as saved
    later = fresh()
    later.load_state_dict(part.state_dict())
    second = train(later, _blobs(160, 0), _blobs(64, 1), config, teacher=teacher, until=3,
                   resume=first.state)
    last = fresh()
    last.load_state_dict(later.state_dict())
    rest = train(last, _blobs(160, 0), _blobs(64, 1), config, teacher=teacher,
                 resume=second.state)
    assert torch.equal(flat(last), flat(whole)) and rest.accuracy == through.accuracy
    assert rest.state is None and second.state["epoch"] == 3
    with pytest.raises(ValueError, match="until = 5: an epoch of the schedule, 1..4"):
        train(fresh(), _blobs(32, 0), _blobs(8, 1), config, teacher=teacher, until=5)
    with pytest.raises(ValueError, match="nothing is left before epoch 3"):
        train(fresh(), _blobs(32, 0), _blobs(8, 1), config, teacher=teacher, until=3,
              resume=second.state)


def test_kd_trains_another_student_than_labels_alone():
    # the same seed, data and budget; only the loss differs: the weights must too (on any host,
    # unlike accuracies, which coincide when neither student learns anything in a tiny budget)
    def trained(alpha, teacher):
        torch.manual_seed(0)
        model = build_model("cn_r1_k3_s1_c8|cn_r1_k3_s2_c16", num_classes=3, in_channels=1)
        train(model, _blobs(128, 0), _blobs(32, 1),
              TrainConfig(epochs=1, batch_size=32, alpha=alpha), teacher=teacher)
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    def uniform(epoch, index, batch):  # a teacher that knows nothing: flat logits
        return torch.zeros(len(batch), 3)

    labels_only, distilled = trained(0.0, None), trained(0.9, uniform)
    assert torch.equal(labels_only, trained(0.0, None))  # seeded: the difference is the loss
    assert not torch.allclose(labels_only, distilled)


class _Exploding(nn.Module):
    def forward(self, x):
        return torch.full((len(x), 3), float("nan")) * x.sum()


def test_nan_student_is_reported_as_failed():
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 3), _Exploding())
    result = train(model, _blobs(64, 0), _blobs(32, 1), TrainConfig(epochs=1, batch_size=32))
    assert result.status == "failed" and math.isnan(result.accuracy)
    assert "non-finite" in result.error and "epoch 0 step 0" in result.error


def test_diverging_student_is_reported_as_failed():
    model = build_model("cn_r1_k3_s1_c8", num_classes=3, in_channels=1)
    result = train(model, _blobs(512, 0), _blobs(32, 1),
                   TrainConfig(epochs=2, batch_size=16, lr=1e4, weight_decay=0.0,
                               schedule="constant"))
    assert result.status == "failed"
    assert "diverged" in result.error or "non-finite" in result.error


def test_losses_read_in_groups_as_on_a_gpu_train_the_same_weights_and_catch_divergence(
        monkeypatch):
    """On a GPU the trainer reads the step losses every LOSS_CHECK_EVERY steps instead of each
    step (no host-device wait per step); run here on the CPU, that path must train exactly the
    weights the per-step path does, and still fail a diverging training, naming the step."""
    import akd.distill.trainer as trainer

    def trained():
        torch.manual_seed(0)
        model = build_model("cn_r1_k3_s1_c8|cn_r1_k3_s2_c16", num_classes=3, in_channels=1)
        result = train(model, _blobs(224, 0), _blobs(32, 1),  # 7 steps an epoch: 3 + 3 + 1
                       TrainConfig(epochs=2, batch_size=32, lr=0.05))
        return result, torch.cat([p.detach().flatten() for p in model.parameters()])

    each_step, weights = trained()
    monkeypatch.setattr(trainer, "DEFERRED_LOSS_DEVICES", {"cpu", "cuda"})
    monkeypatch.setattr(trainer, "LOSS_CHECK_EVERY", 3)
    grouped, grouped_weights = trained()
    assert torch.equal(weights, grouped_weights) and grouped.accuracy == each_step.accuracy
    model = build_model("cn_r1_k3_s1_c8", num_classes=3, in_channels=1)
    result = train(model, _blobs(512, 0), _blobs(32, 1),
                   TrainConfig(epochs=2, batch_size=16, lr=1e4, weight_decay=0.0,
                               schedule="constant"))
    assert result.status == "failed"
    assert ("diverged" in result.error or "non-finite" in result.error) and " step " in result.error


def test_kd_without_teacher_is_an_error():
    model = build_model("cn_r1_k3_s1_c8", num_classes=3, in_channels=1)
    with pytest.raises(ValueError, match=r"alpha = 0.9 needs a teacher"):
        train(model, _blobs(32, 0), _blobs(32, 1), TrainConfig(alpha=0.9))


def test_early_stopping_drops_the_rate_at_each_plateau_then_stops_by_hand():
    """patience 2, schedule plateau: epochs 1-2 improve, 3-4 do not (drop 1), 5 improves, 6-7
    do not (drop 2), 8-9 do not: stop after epoch 9, keeping epoch 5's weights."""
    from akd.distill.trainer import _EarlyStopping

    model = nn.Linear(2, 2)
    stopping = _EarlyStopping(TrainConfig(epochs=50, patience=2, schedule="plateau"), model)
    accuracies = [0.5, 0.6, 0.6, 0.55, 0.7, 0.7, 0.6, 0.65, 0.69]
    decisions = []
    for epoch, accuracy in enumerate(accuracies, start=1):
        if epoch == 5:
            with torch.no_grad():
                model.weight.fill_(5.0)  # the best epoch's weights, to be restored
        decisions.append(stopping.end_epoch(accuracy))
        if epoch == 5:
            with torch.no_grad():
                model.weight.fill_(-1.0)
    assert decisions == [False] * 8 + [True]
    assert stopping.lr_scale == pytest.approx(0.01)
    summary = stopping.restore_best()
    assert summary == {"epochs": 9, "best_epoch": 5, "val_acc": 0.7, "lr_drops": 2}
    assert torch.all(model.weight == 5.0)
    # without schedule plateau the first plateau stops it
    first = _EarlyStopping(TrainConfig(epochs=50, patience=2), model)
    assert [first.end_epoch(a) for a in accuracies[:4]] == [False, False, False, True]


def test_a_training_with_patience_keeps_its_best_epoch_and_scores_it():
    """It stops before the cap, and the model it returns is the kept epoch's: scored again on
    the validation split it gives the accuracy the stopping recorded."""
    from akd.distill import evaluate

    torch.manual_seed(0)
    model = build_model("cn_r1_k3_s1_c8|cn_r1_k3_s2_c16", num_classes=3, in_channels=1)
    val = _blobs(200, 2)
    config = TrainConfig(epochs=60, batch_size=32, lr=0.05, patience=2, schedule="plateau")
    result = train(model, _blobs(384, 0), _blobs(200, 1), config, val_split=val)
    assert result.status == "ok" and result.stopping["epochs"] < 60
    assert result.stopping["best_epoch"] <= result.stopping["epochs"]
    assert evaluate(model, val) == result.stopping["val_acc"]
    assert result.accuracy == evaluate(model, _blobs(200, 1))
    with pytest.raises(ValueError, match="it needs a val_split"):
        train(model, _blobs(64, 0), _blobs(64, 1), config)
    with pytest.raises(ValueError, match="schedule = plateau .* needs a patience > 0"):
        TrainConfig(schedule="plateau").check()
