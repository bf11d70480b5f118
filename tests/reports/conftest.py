"""Session fixtures: synthetic run directories and their rendered reports (built once)."""

from __future__ import annotations

import pytest

from specaudit.reports import render_comparison, render_report
from tests.reports.builders import default_specs, make_run

SMALL = {"languages": ("en", "ar", "sw"), "n_prompts": 12}


@pytest.fixture(scope="session")
def default_run(tmp_path_factory):
    """The default audit's shape: 11 languages x 2 tasks x 20 prompts."""
    return make_run(tmp_path_factory.mktemp("default") / "run")


@pytest.fixture(scope="session")
def default_report(default_run):
    return render_report(default_run)


@pytest.fixture(scope="session")
def before_run(tmp_path_factory):
    specs = default_specs(SMALL["n_prompts"], languages=SMALL["languages"])
    return make_run(tmp_path_factory.mktemp("before") / "run", specs, seed=3)


@pytest.fixture(scope="session")
def after_run(tmp_path_factory):
    """The same prompts, with the worse-served languages' acceptance raised."""
    specs = default_specs(SMALL["n_prompts"], languages=SMALL["languages"], shift=0.15)
    return make_run(tmp_path_factory.mktemp("after") / "run", specs, seed=3)


@pytest.fixture(scope="session")
def comparison_report(tmp_path_factory, after_run, before_run):
    return render_comparison(
        after_run, before_run, out=tmp_path_factory.mktemp("cmp") / "comparison.html"
    )
