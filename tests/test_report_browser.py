"""The report rendered in headless Chromium: no errors, no requests but the page, every figure drawn."""

import os
from pathlib import Path

import pytest

from test_report import FIGURES, report, small_store

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def _unavailable(reason: str):
    """In CI a missing browser is a failure; elsewhere the test is skipped."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def sync_playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed: pip install -e '.[dev]'")
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing: apt-get install chromium")
    return sync_playwright


def test_report_renders_offline_without_errors(sync_playwright, tmp_path):
    index = report(small_store(tmp_path / "s.db"), tmp_path / "out")
    url = index.resolve().as_uri()
    console, errors, requests = [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda message: console.append((message.type, message.text)))
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("request", lambda request: requests.append(request.url))
            page.goto(url, wait_until="load")
            boxes = [page.locator(f"#fig-{name} svg").bounding_box() for name in FIGURES]
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert [m for m in console if m[0] == "error"] == [] and errors == []
    assert [u for u in requests if not u.startswith("data:")] == [url]
    assert all(box and box["width"] > 100 and box["height"] > 100 for box in boxes), boxes
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 50_000
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width == 1200 and height > 2000
