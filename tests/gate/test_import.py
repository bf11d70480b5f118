"""The gate reads metrics only: no torch, transformers, audit or mitigation."""

import subprocess
import sys
import textwrap


def test_gate_imports_no_heavy_or_sibling_packages():
    code = textwrap.dedent(
        """
        import sys
        import specaudit.gate
        import specaudit.cli
        banned = ("torch", "transformers", "specaudit.audit", "specaudit.mitigation")
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
