"""The gate reads metrics only: no torch, transformers, audit or mitigation.

The CLI builds ``run``'s options from ``RunConfig`` when it is imported, so
``specaudit.audit.config`` (a torch-free pydantic model) is the one audit
module that may load; nothing that decodes does.
"""

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
        allowed = ("specaudit.audit", "specaudit.audit.config")
        loaded = [
            m for m in sys.modules
            if (m.split(".")[0] in banned or m.startswith(banned)) and m not in allowed
        ]
        assert not loaded, loaded
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
