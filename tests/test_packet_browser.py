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
            # Layout facts a reader sees: the summary cards' rows at 1,300 px, the failed-requests table
            # against its column, and whether any id cell wraps (an id broken mid-id).
            page.set_viewport_size({"width": 1300, "height": height})
            state["kpi_rows"] = page.evaluate(
                "() => new Set([...document.querySelectorAll('.kpi')].map(e => Math.round(e.getBoundingClientRect().top))).size")
            state["failures_overflow"] = page.evaluate(
                "() => [...document.querySelectorAll('table.failures-table, table.lost-table')].map("
                "t => t.scrollWidth - t.parentElement.clientWidth)")
            state["wrapped_ids"] = page.evaluate(
                "() => [...document.querySelectorAll('table.failures-table td.id, table.lost-table td.id')]"
                ".filter(td => { const r = document.createRange(); r.selectNodeContents(td);"
                " return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size > 1; })"
                ".map(td => td.textContent)")
            state["id_cells"] = page.evaluate(
                "() => [...document.querySelectorAll('table.failures-table td.id, table.lost-table td.id')]"
                ".map(td => [td.title, td.textContent])")
            page.set_viewport_size({"width": 1100, "height": height})
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
    assert state["kpi_rows"] == 1  # the summary cards sit on one row at 1,300 px
    assert state["failures_overflow"] and max(state["failures_overflow"]) <= 0  # tables fit the page column
    assert state["wrapped_ids"] == []  # no id broken mid-id
    _short_ids_carry_the_full_id(state["id_cells"])


def _short_ids_carry_the_full_id(cells: list[list[str]]) -> None:
    # Every id cell shows the id or its start, and carries the whole id as its title (hover).
    assert cells
    for title, text in cells:
        assert text in (title, "-") or (len(text) >= 8 and title.startswith(text.removesuffix("…"))), (title, text)
    assert any(len(title) > len(text) for title, text in cells)


def test_a_real_shaped_packet_lays_out_like_the_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # The mixed first-party/relay corpus (tests/test_provider_claims.py): long real-shaped ids, a relay
    # window reported apart. Same layout checks as the demo's.
    import test_provider_claims as corpus

    projects = corpus._build(tmp_path)
    out = tmp_path / "packet"
    result = CliRunner().invoke(main, ["claim", "--source", str(projects), "--db", str(tmp_path / "l.sqlite3"),
                                       "--offline", "--since", "2026-05-14", "--until", "2026-05-16",
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    state = open_report(out / "report.html", tmp_path / "real.png", print_pdf=tmp_path / "real.pdf")
    assert state["requests"] == [(out / "report.html").as_uri()]
    assert state["chart_visible"] and state["chart_box"]["width"] > 600
    assert state["kpi_rows"] == 1 and max(state["failures_overflow"]) <= 0 and state["wrapped_ids"] == []
    assert state["print_width"] <= 703
    _short_ids_carry_the_full_id(state["id_cells"])


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
