"""report.html in a real browser: headless Chromium (Debian's package) driven by Playwright.

No browser download ever: Playwright is pointed at /usr/bin/chromium (or CLAIMBACK_TEST_CHROMIUM); when
neither Playwright nor a Chromium is present the test skips with the reason.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from claimback.cli import main

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CLAIMBACK_TEST_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def open_report(html: Path, screenshot: Path, *, print_pdf: Path | None = None, full_page: bool = True,
                height: int = 900) -> dict:
    """Load the page with every request routed and recorded; return what the page did and showed."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (pip install '.[test]')")
    executable = chromium_path()
    if executable is None:
        pytest.skip("no Chromium at /usr/bin/chromium (apt-get install chromium); .ci/run installs it")
    requests: list[str] = []
    console: list[tuple[str, str]] = []
    page_errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": height})
            page.on("console", lambda m: console.append((m.type, m.text)))
            page.on("pageerror", lambda e: page_errors.append(str(e)))

            def route(r) -> None:
                requests.append(r.request.url)
                if r.request.url == html.as_uri():
                    r.continue_()
                else:
                    r.abort()

            page.route("**/*", route)
            page.goto(html.as_uri(), wait_until="load")
            page.wait_for_load_state("networkidle")
            chart = page.locator("figure.chart svg").first
            table = page.locator("table.loss-table").first
            state = {
                "chart_visible": chart.is_visible(),
                "chart_box": chart.bounding_box(),
                "table_visible": table.is_visible(),
                "table_text": table.inner_text(),
                "title": page.title(),
            }
            page.screenshot(path=str(screenshot), full_page=full_page)
            if print_pdf is not None:
                page.emulate_media(media="print")
                # A4 minus the 12 mm side margins of the page's @page rule is ~703 CSS px: nothing may be wider.
                page.set_viewport_size({"width": 703, "height": 1000})
                state["print_width"] = page.evaluate("() => document.documentElement.scrollWidth")
                page.pdf(path=str(print_pdf), format="A4", prefer_css_page_size=True)
        finally:
            browser.close()
    state.update(requests=requests, console=console, page_errors=page_errors)
    return state


def test_report_html_renders_offline_in_chromium(tmp_path: Path):
    out = tmp_path / "packet"
    result = CliRunner().invoke(main, ["claim", "--demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = out / "report.html"
    shot = tmp_path / "report.png"
    pdf = tmp_path / "report.pdf"
    state = open_report(html, shot, print_pdf=pdf)
    assert state["requests"] == [html.as_uri()], state["requests"]  # the page itself, nothing else
    assert [c for c in state["console"] if c[0] in ("error", "warning")] == [] and state["page_errors"] == []
    assert state["chart_visible"] and state["chart_box"]["width"] > 600 and state["chart_box"]["height"] > 200
    assert state["table_visible"]
    assert "Killed subagent work" in state["table_text"] and "measured" in state["table_text"]
    assert "Claim packet" in state["title"]
    assert shot.stat().st_size > 50_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 20_000
    assert state["print_width"] <= 703  # prints on A4 without cutting a table off


def make_docs_screenshot(target: Path) -> None:  # pragma: no cover - run by hand: python tests/test_packet_browser.py
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "packet"
        result = CliRunner().invoke(main, ["claim", "--demo", "--out", str(out)])
        assert result.exit_code == 0, result.output
        # The top of the page (summary, chart, loss table) keeps the docs image small and legible.
        open_report(out / "report.html", target, full_page=False, height=1600)


if __name__ == "__main__":  # pragma: no cover
    make_docs_screenshot(Path(__file__).resolve().parents[1] / "docs" / "img" / "demo-report.png")
