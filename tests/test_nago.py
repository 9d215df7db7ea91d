"""NAGO's space: networks drawn from the hierarchical graph generator build for any input and
class count, rebuild from their string, follow the parameter budget, and are timed and counted
like any student."""

import numpy as np
import pytest
import torch

from search_spaces import NagoArch, build_model, count_cost, get_space, parse_arch
from search_spaces.nago import MIN_CHANNELS, width_for_budget

from akd import LatencyCache, LatencyConfig, latency_of

SPACE = get_space("nago", max_nodes=4, budget=20_000)


def samples(space, n, seed=0):
    rng = np.random.default_rng(seed)
    return [space.decode(space.sample(rng)) for _ in range(n)]


def test_the_space_has_nagos_eight_parameters_and_a_seed():
    full = get_space("nago")
    assert [d.name for d in full.decisions] == [
        "top.nodes", "top.k", "top.p", "mid.nodes", "mid.p", "bottom.nodes", "bottom.k",
        "bottom.p", "graph.seed"]
    values = {d.name: d.values for d in full.decisions}
    assert values["top.nodes"] == tuple(range(3, 11)) and values["top.k"] == (2, 3, 4, 5)
    assert values["top.p"][0] == 0.1 and values["top.p"][-1] == 1.0
    assert values["mid.p"][0] == 0.2 and values["bottom.nodes"][-1] == 10


@pytest.mark.parametrize("in_channels, size, classes", [(1, 28, 10), (3, 32, 100), (3, 9, 2)])
def test_a_network_builds_and_runs_for_any_input_and_class_count(in_channels, size, classes):
    for arch in samples(SPACE, 3):
        model = build_model(str(arch), num_classes=classes, in_channels=in_channels).eval()
        with torch.no_grad():
            out = model(torch.randn(2, in_channels, size, size))
        assert out.shape == (2, classes) and torch.isfinite(out).all()


def test_the_string_rebuilds_the_network_exactly():
    for decisions in (SPACE.sample(np.random.default_rng(s)) for s in range(5)):
        arch = SPACE.decode(decisions)
        text = str(arch)
        assert parse_arch(text) == arch and SPACE.encode(text) == decisions
        torch.manual_seed(0)
        a = build_model(text, 10, 1)
        torch.manual_seed(0)
        b = build_model(str(parse_arch(text)), 10, 1)
        assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(),
                                                     b.state_dict().values()))
    # the same parameters with another seed draw other graphs
    a = NagoArch((6, 4, 0.5), (6, 0.5), (4, 2, 0.5), 0, 4)
    b = NagoArch((6, 4, 0.5), (6, 0.5), (4, 2, 0.5), 1, 4)
    assert a.graphs() != b.graphs() and a.graphs() == a.graphs()
    with pytest.raises(ValueError, match="is not a NAGO network"):
        parse_arch("nago:top=6,4")


def test_the_width_follows_the_parameter_budget():
    # more budget, a wider network; a small graph fills its budget closely
    widths = [width_for_budget(3, 3, 3, budget) for budget in (10_000, 100_000, 1_000_000)]
    assert widths == sorted(widths) and widths[0] < widths[-1]
    for budget in (200_000, 500_000):
        arch = get_space("nago", budget=budget, max_nodes=3).decode([0] * 9)
        body = count_cost(str(arch), (1, 28, 28), 10).params
        wider = NagoArch(arch.top, arch.mid, arch.bottom, arch.seed, arch.channels + 1)
        assert body <= budget * 1.05  # the stem and classifier add a little to the body
        assert count_cost(str(wider), (1, 28, 28), 10).params > budget
    assert width_for_budget(10, 10, 10, 1_000) == MIN_CHANNELS  # never below the minimum


def test_a_network_is_timed_and_counted_like_any_student(tmp_path):
    arch = str(samples(SPACE, 1)[0])
    stats = latency_of(arch, LatencyCache(tmp_path / "latency.jsonl"),
                       LatencyConfig((1, 28, 28), warmup=1, repeats=5, retries=0))
    cost = count_cost(arch, (1, 28, 28), 10)
    assert stats.median_ms > 0 and cost.params > 0 and cost.macs > 0


def test_bad_space_options_are_refused():
    with pytest.raises(ValueError, match="max_nodes must be an integer >= 3"):
        get_space("nago", max_nodes=2)
    with pytest.raises(ValueError, match="budget must be an integer >= 1"):
        get_space("nago", budget=0)


@pytest.mark.slow
def test_nago_runs_through_the_search_the_final_stage_and_export(tmp_path, capsys):
    from akd.cli import export_main, main
    from akd.search import RunDir

    run = tmp_path / "run"
    assert main(["--config", "quick", "--out", str(run), "--set", "progress=false",
                 "--set", f"cache_dir={tmp_path / 'cache'}", "--set", "data.name=synthetic",
                 "--set", "data.val_size=400", "--set", "data.proxy_size=400",
                 "--set", "teacher.train_images=0", "--set", "final.test_images=0",
                 "--set", "space.name=nago", "--set", "space.preset=null",
                 "--set", "space.options={max_nodes: 3, budget: 20000}",
                 "--set", "controller.name=autokd",
                 "--set", "controller.options={startup: 1, members: 2}",
                 "--set", "search.trials=2", "--set", "final.seeds=1"]) == 0
    trials = RunDir(run).read_trials()
    assert len(trials) == 4 and all(t.ok for t in trials)
    assert all(t.arch.startswith("nago:") and t.latency_ms > 0 for t in trials)
    assert "best family #" in capsys.readouterr().out
    final = (run / "final.json").read_text()
    assert '"gain"' in final and "nago:" in final
    assert export_main([str(run), "--out", str(tmp_path / "export")]) == 0
    assert (tmp_path / "export" / "student.arch").read_text().startswith("nago:")
