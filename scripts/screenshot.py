"""Regenerate the README's report screenshot, ``docs/assets/report.png``.

Runs a small audit of the built-in demo pair (unless ``--run`` names an
existing run directory), writes its report, and photographs the top of it
in headless Chromium, the way ``tests/reports/test_browser.py`` opens
reports: Debian's ``chromium`` package driven by playwright, offline, never
downloading a browser.

Usage::

    python scripts/screenshot.py                      # audit runs/readme, then shoot
    python scripts/screenshot.py --run runs/demo      # shoot an existing run
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import specaudit

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# The browser test's flags: headless, sandbox-free, nothing fetched.
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
#: The small audit the README shows: three languages, both tasks.
README_RUN = specaudit.RunConfig(languages=["en", "de", "sw"], n_prompts=10)


def shoot(report: Path, out: Path, *, width: int = 1280, height: int = 1000) -> Path:
    """Photograph the first ``height`` pixels of ``report`` in headless Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_context(offline=True, viewport={"width": width, "height": height})
        tab = page.new_page()
        tab.goto(report.resolve().as_uri(), wait_until="load")
        out.parent.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(out), full_page=False)
        browser.close()
    return out


def main() -> None:
    """Audit (or reuse) a run and write the screenshot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="an existing run directory to photograph")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "assets" / "report.png")
    args = parser.parse_args()
    run_dir = args.run
    if run_dir is None:
        run_dir = Path("runs/readme")
        specaudit.run_pipeline(README_RUN, run_dir, resume=run_dir.exists(), log=print)
    report = specaudit.render_report(run_dir)
    print(f"screenshot: {shoot(report, args.out)}")


if __name__ == "__main__":
    main()
