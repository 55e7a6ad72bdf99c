"""Pricing table: LiteLLM format, ccusage-like model matching, per-request cost rules, cost modes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from claimback.analysis.pricing import PricingTable, TokenSums, choose_cost
from claimback.cli import main
from claimback.errors import BadInput

BUNDLED = Path(__file__).parents[1] / "src" / "claimback" / "data" / "pricing.json"


@pytest.fixture(scope="module")
def raw() -> dict:
    return json.loads(BUNDLED.read_text())


@pytest.fixture(scope="module")
def table() -> PricingTable:
    return PricingTable.bundled()


def test_bundled_table_states_its_source_and_date(raw: dict, table: PricingTable) -> None:
    meta = raw["_meta"]
    assert "litellm" in meta["source"] and meta["extracted"][:4].isdigit()
    assert "litellm" in table.describe()
    # every model entry is in LiteLLM's format and names a Claude model
    entries = {k: v for k, v in raw.items() if k != "_meta"}
    assert len(entries) == len(table) > 50
    assert all("claude" in k and "input_cost_per_token" in v for k, v in entries.items())


@pytest.mark.parametrize("model, key", [
    ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5-20250929"),          # exact
    ("anthropic/claude-opus-4-6", "claude-opus-4-6"),                        # provider prefix
    ("claude-opus-4-6-20990101", "claude-opus-4-6"),                         # unknown date suffix
    ("CLAUDE-HAIKU-4-5", "claude-haiku-4-5"),                                # case
])
def test_model_matching(table: PricingTable, model: str, key: str) -> None:
    price = table.lookup(model)
    assert price is not None and price.key == key


def test_fuzzy_match_prefers_first_party_prices(table: PricingTable, raw: dict) -> None:
    # only cloud ids exist for Opus 4.1 in LiteLLM's table: the match must be one of them, never a
    # reseller's, and the shortest (global) one when several tie
    price = table.lookup("claude-opus-4-1-20250805")
    assert price is not None and "claude-opus-4-1-20250805" in price.key
    assert price.input == raw[price.key]["input_cost_per_token"]


@pytest.mark.parametrize("model", ["claude-experimental-9", "<synthetic>", "", None, "gpt-4o"])
def test_unknown_model_has_no_cost(table: PricingTable, model: str | None) -> None:
    assert table.lookup(model) is None
    assert table.request_cost(model, 100, 100, 0, 0, 0) is None


def test_request_cost_uses_each_rate(table: PricingTable, raw: dict) -> None:
    e = raw["claude-sonnet-4-5-20250929"]
    cost = table.request_cost("claude-sonnet-4-5-20250929", input=1000, output=2000, cache_write=5000,
                              cache_write_1h=3000, cache_read=40000)
    expected = (1000 * e["input_cost_per_token"] + 2000 * e["output_cost_per_token"]
                + 2000 * e["cache_creation_input_token_cost"] + 3000 * e["cache_creation_input_token_cost_above_1hr"]
                + 40000 * e["cache_read_input_token_cost"])
    assert cost == pytest.approx(expected, rel=1e-12)
    assert e["cache_creation_input_token_cost_above_1hr"] > e["cache_creation_input_token_cost"]


def test_one_hour_writes_fall_back_to_the_5m_rate_when_the_table_lacks_it(table: PricingTable) -> None:
    price = table.lookup("claude-opus-4-1-20250805")
    assert price is not None and price.cache_write_1h is None
    both = table.request_cost("claude-opus-4-1-20250805", 0, 0, 1000, 400, 0)
    assert both == pytest.approx(1000 * price.cache_write)


def test_tiered_rates_apply_per_kind_beyond_200k(table: PricingTable) -> None:
    price = table.lookup("claude-sonnet-4-20250514")
    assert price is not None and price.input_above and price.cache_read_above
    cost = table.request_cost("claude-sonnet-4-20250514", input=250_000, output=10, cache_write=0,
                              cache_write_1h=0, cache_read=150_000)
    expected = (200_000 * price.input + 50_000 * price.input_above + 10 * price.output
                + 150_000 * price.cache_read)  # cache read stays under its own threshold
    assert cost == pytest.approx(expected, rel=1e-12)


def test_sums_of_requests_price_exactly_like_each_request(table: PricingTable) -> None:
    """Reports price SQL sums (tokens + tokens beyond 200k); that must equal the sum of request costs."""
    requests = [(250_000, 10, 0, 0, 0), (12, 900, 3000, 0, 210_000), (5, 5, 0, 0, 199_999), (300_001, 0, 0, 0, 0)]
    one_by_one = sum(table.request_cost("claude-sonnet-4-20250514", *r) for r in requests)
    parts = [TokenSums.one(*r) for r in requests]
    summed = TokenSums(*(sum(getattr(p, f) for p in parts) for f in TokenSums.__dataclass_fields__))
    assert table.cost_of("claude-sonnet-4-20250514", summed) == pytest.approx(one_by_one, rel=1e-12)


def test_fast_mode_multiplier(table: PricingTable, raw: dict) -> None:
    standard = table.request_cost("claude-opus-4-6", 1000, 1000, 0, 0, 0)
    fast = table.request_cost("claude-opus-4-6", 1000, 1000, 0, 0, 0, speed="fast")
    assert fast == pytest.approx(standard * raw["claude-opus-4-6"]["provider_specific_entry"]["fast"])
    # a model without a known multiplier is priced at its standard rate, not guessed
    assert table.request_cost("claude-sonnet-4-6", 10, 10, 0, 0, 0, speed="fast") == \
        table.request_cost("claude-sonnet-4-6", 10, 10, 0, 0, 0)


def test_cost_modes() -> None:
    assert choose_cost("calculate", 1.5, 9.0) == 1.5
    assert choose_cost("display", 1.5, 9.0) == 9.0
    assert choose_cost("display", 1.5, None) is None
    assert choose_cost("auto", 1.5, 9.0) == 9.0
    assert choose_cost("auto", 1.5, None) == 1.5


def test_pricing_file_replaces_the_table(tmp_path: Path) -> None:
    custom = tmp_path / "prices.json"
    custom.write_text(json.dumps({"sample_spec": {"input_cost_per_token": 0},
                                  "my-model": {"input_cost_per_token": 0.5, "output_cost_per_token": 1.0}}))
    table = PricingTable.from_file(custom)
    assert table.request_cost("my-model", 2, 3, 0, 0, 0) == pytest.approx(4.0)
    assert table.lookup("claude-opus-4-6") is None


@pytest.mark.parametrize("content", ["not json", "[1, 2]", '{"a": {"mode": "chat"}}'])
def test_bad_pricing_file_is_bad_input(tmp_path: Path, content: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    with pytest.raises(BadInput):
        PricingTable.from_file(bad)


def test_cli_pricing_option(tmp_path: Path) -> None:
    corpus = Path(__file__).parent / "fixtures" / "parity" / "claude"
    custom = tmp_path / "prices.json"
    custom.write_text(json.dumps({"claude-sonnet-4-5-20250929": {"input_cost_per_token": 1.0}}))
    args = ["usage", "daily", "--json", "--timezone", "UTC", "--mode", "calculate", "--source", str(corpus),
            "--db", str(tmp_path / "l.sqlite3")]
    result = CliRunner().invoke(main, [*args, "--pricing", str(custom)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    day = next(d for d in data["daily"] if d["date"] == "2026-05-10")  # a sonnet-4.5-only day
    assert day["totalCost"] == pytest.approx(day["inputTokens"] * 1.0)
    assert "claude-opus-4-6" in data["claimback"]["unpricedModels"]
    missing = CliRunner().invoke(main, [*args, "--pricing", str(tmp_path / "nope.json")])
    assert missing.exit_code == 2 and "Traceback" not in missing.output


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "huge", "directory"])
def test_a_pricing_file_that_is_no_regular_file_or_too_big_is_one_line_of_bad_usage(tmp_path: Path, kind: str) -> None:
    import os
    import subprocess
    import sys

    target = tmp_path / "prices.json"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "dev-zero":
        target.symlink_to("/dev/zero")
    elif kind == "huge":
        with open(target, "wb") as fh:  # sparse: 200 MB that take no disk
            fh.truncate(200 * 1024 * 1024)
    else:
        target.mkdir()
    env = dict(os.environ, CLAIMBACK_HOME=str(tmp_path / "home"), CLAIMBACK_STATUS_URL="http://127.0.0.1:9")
    proc = subprocess.run([sys.executable, "-m", "claimback", "usage", "daily", "--pricing", str(target),
                           "--db", str(tmp_path / "l.db"), "--no-ingest"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-500:])
    lines = proc.stderr.strip().splitlines()
    assert "Traceback" not in proc.stderr and lines and "pricing" in lines[-1].lower(), proc.stderr
    assert len([line for line in lines if "pricing" in line.lower()]) == 1, proc.stderr
    want = {"fifo": "not a regular file", "dev-zero": "not a regular file", "huge": "larger than",
            "directory": "is a directory"}[kind]
    assert want in lines[-1], proc.stderr
