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


GEOMETRY = """() => {
  const box = e => { const r = e.getBoundingClientRect();
                     return {left: r.left + scrollX, right: r.right + scrollX, top: r.top + scrollY,
                             bottom: r.bottom + scrollY, width: r.width, height: r.height}; };
  const root = document.documentElement;
  return {
    width: root.clientWidth, scrollWidth: root.scrollWidth, height: root.scrollHeight,
    figures: [...document.querySelectorAll("figure svg")].map(svg => ({
      id: svg.closest("figure").id, box: box(svg), intrinsic: svg.width.baseVal.value,
      room: svg.parentElement.clientWidth, view: [svg.viewBox.baseVal.width, svg.viewBox.baseVal.height]})),
    tables: [...document.querySelectorAll("table")].map(table => ({
      id: table.closest("section").id, box: box(table), container: box(table.parentElement),
      overflow: table.parentElement.scrollWidth - table.parentElement.clientWidth})),
  };
}"""


def test_the_eleven_arm_report_fits_a_1400_px_page(sync_playwright, tmp_path):
    """The weight-baselines report (11 arms): every figure and table lies inside a 1400-px page,
    no table scrolls inside its box, and every figure is drawn whole, scaled only to fit."""
    from test_report_scale import NAME, eleven_arms
    from sparsearch.study import Study

    index = Study(eleven_arms(tmp_path / "s.db", seeds=2), NAME).report(tmp_path / "out")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(index.resolve().as_uri(), wait_until="load")
            geometry = page.evaluate(GEOMETRY)
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    width, height = geometry["width"], geometry["height"]
    assert geometry["scrollWidth"] <= width <= 1400
    assert [f["id"] for f in geometry["figures"]] == [f"fig-{name}" for name in FIGURES]
    assert {"summary", "comparisons", "environment"} <= {t["id"] for t in geometry["tables"]}
    for element in geometry["figures"] + geometry["tables"]:
        box = element["box"]
        assert 0 <= box["left"] and box["right"] <= width and 0 <= box["top"] and box["bottom"] <= height, element
    for table in geometry["tables"]:
        assert table["overflow"] <= 0 and table["box"]["right"] <= table["container"]["right"] + 0.5, table
    for figure in geometry["figures"]:
        box, (view_width, view_height) = figure["box"], figure["view"]
        assert box["width"] == pytest.approx(min(figure["intrinsic"], figure["room"]), abs=1), figure
        assert box["height"] / box["width"] == pytest.approx(view_height / view_width, rel=0.01), figure
    data = shot.read_bytes()
    assert int.from_bytes(data[16:20], "big") == 1400
