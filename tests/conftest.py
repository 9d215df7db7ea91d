"""Fixtures shared by the end-to-end tests: one quick run on the real dataset per session."""

import pytest

from akd.cli import main


@pytest.fixture(scope="session")
def cache(tmp_path_factory):
    """One cache (prepared data, the quick teacher, logits, latencies) for the whole session."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def quick_run(cache, tmp_path_factory):
    """A finished run of the quick preset (search and final stage). Tests must not modify it:
    copy it first."""
    run = tmp_path_factory.mktemp("quick") / "run"
    assert main(["--config", "quick", "--out", str(run), "--set", f"cache_dir={cache}",
                 "--set", "progress=false"]) == 0
    return run
