"""A real browser: headless Chromium (Debian's ``chromium`` package) opens the reports from disk.

Driven by the ``playwright`` Python package against the system Chromium; no
browser is ever downloaded (never run ``playwright install``). CI installs
Chromium in ``.ci/run``; elsewhere the test skips, saying how to install it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
INSTALL = "install it with: apt-get install -y --no-install-recommends chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is missing: pip install -e '.[test]'"
)
if not Path(CHROMIUM).is_file():
    pytest.skip(f"headless Chromium not found at {CHROMIUM}; {INSTALL}", allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


def load(browser, report: Path, screenshot: Path):
    """Open ``report`` offline; return (page, console messages, page errors, requests)."""
    context = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    console, errors, requests = [], [], []
    page.on("console", lambda m: console.append((m.type, m.text)))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    url = report.resolve().as_uri()
    page.goto(url, wait_until="load")
    page.screenshot(path=str(screenshot), full_page=True)
    return page, console, errors, [u for u in requests if u != url and not u.startswith("data:")]


def check_clean(page, console, errors, requests, screenshot):
    assert [text for kind, text in console if kind == "error"] == []
    assert errors == []
    assert requests == []  # only the file:// document itself was loaded
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height >= 1500
    assert screenshot.stat().st_size > 10_000


def test_report_opens_offline_in_chromium(browser, default_report, tmp_path):
    shot = tmp_path / "report.png"
    page, console, errors, requests = load(browser, default_report, shot)
    check_clean(page, console, errors, requests, shot)
    # Every section and every plot is rendered, with a visible size.
    for section in ("verdict", "groups", "plots", "contrasts", "examples", "method"):
        assert page.locator(f"section#{section}").is_visible()
    boxes = [page.locator(f"figure[data-plot] svg >> nth={i}").bounding_box() for i in range(6)]
    assert all(box and box["width"] > 400 and box["height"] > 200 for box in boxes)
    # The hostile prompt did not run: no alert dialog, no injected element.
    assert page.evaluate("document.querySelectorAll('script').length") == 1
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    # Sorting by measured speed-up puts the worst group first.
    header = page.locator("#group-table th", has_text="Speed-up (measured)")
    header.locator("button").click()
    assert header.get_attribute("aria-sort") == "ascending"
    first = page.locator("#group-table tbody tr").first.get_attribute("data-group")
    worst = page.locator(".card", has_text="Worst served").inner_text()
    assert first in worst
    # Examples open on click and keep right-to-left text right-to-left.
    details = page.locator("details").first
    details.locator("summary").click()
    assert details.get_attribute("open") is not None
    direction = page.evaluate(
        "Array.from(document.querySelectorAll('.text[dir=auto]'))"
        ".find(e => /[\\u0600-\\u06FF]/.test(e.textContent))"
        "?.matches(':dir(rtl)')"
    )
    assert direction is True


def test_comparison_report_opens_offline_in_chromium(browser, comparison_report, tmp_path):
    shot = tmp_path / "comparison.png"
    page, console, errors, requests = load(browser, comparison_report, shot)
    check_clean(page, console, errors, requests, shot)
    assert page.locator("figure[data-plot] svg").count() == 3
