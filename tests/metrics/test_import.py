"""specaudit.metrics must import, and compute, with torch unavailable."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SUBMODULES = [
    "specaudit.metrics",
    "specaudit.metrics.acceptance",
    "specaudit.metrics.bootstrap",
    "specaudit.metrics.chrf",
    "specaudit.metrics.compare",
    "specaudit.metrics.compute",
    "specaudit.metrics.contrasts",
    "specaudit.metrics.degeneracy",
    "specaudit.metrics.disparity",
    "specaudit.metrics.divergence",
    "specaudit.metrics.estimate",
    "specaudit.metrics.group",
    "specaudit.metrics.quality",
    "specaudit.metrics.quality_result",
    "specaudit.metrics.result",
    "specaudit.metrics.speedup",
    "specaudit.metrics.synthetic",
]


def _run(code: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("ok"), done.stdout


def test_import_with_torch_blocked():
    # scipy 1.17's array-API helpers look up sys.modules["torch"] and fail when it
    # is None, so scipy.stats itself cannot be imported under this block; import it
    # first. Everything else (specaudit, pandas, statsmodels) is imported blocked.
    _run(
        f"""
        import importlib, sys
        import scipy.stats
        sys.modules["torch"] = None  # any "import torch" now raises ImportError
        for name in {SUBMODULES!r}:
            importlib.import_module(name)
        print("ok")
        """
    )


def test_compute_with_torch_not_installed():
    # A finder that refuses torch, as if it were not installed.
    _run(
        """
        import sys
        class NoTorch:
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ModuleNotFoundError(f"No module named {name!r}")
                return None
        sys.meta_path.insert(0, NoTorch())
        from specaudit.metrics import compute_metrics
        from specaudit.metrics.synthetic import GroupSpec, synthetic_records
        result = compute_metrics(synthetic_records([GroupSpec("en", n_prompts=12)]), n_boot=100)
        assert result.groups[0].speedup.status == "ok"
        assert "torch" not in sys.modules and "transformers" not in sys.modules
        print("ok")
        """
    )


def test_import_does_not_load_torch():
    _run(
        """
        import sys
        import specaudit.metrics
        assert "torch" not in sys.modules, "specaudit.metrics imported torch"
        print("ok")
        """
    )
