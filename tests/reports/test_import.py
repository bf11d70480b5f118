"""Reports read metrics results only: no torch, transformers, audit or mitigation."""

import subprocess
import sys
import textwrap


def test_reports_import_no_heavy_or_sibling_packages():
    code = textwrap.dedent(
        """
        import sys
        import specaudit.reports
        import specaudit.reports.html, specaudit.reports.plots, specaudit.reports.compare_plots
        banned = ("torch", "transformers", "specaudit.audit", "specaudit.mitigation",
                  "matplotlib", "seaborn")
        loaded = [m for m in sys.modules if m.split(".")[0] in banned or m.startswith(banned)]
        assert not loaded, loaded
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
