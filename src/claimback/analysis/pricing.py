"""API-equivalent cost of requests, from a pricing table in LiteLLM's JSON format (DESIGN §5 "Cost").

The bundled table (`claimback/data/pricing.json`) holds LiteLLM's Claude entries; its `_meta` key names
the LiteLLM release and the extraction date. `--pricing FILE` swaps in any LiteLLM-format file (for
example LiteLLM's current `model_prices_and_context_window.json`).

Rules, chosen to match ccusage 20 (calculate mode) so the two tools agree on the same files:
- cost = input + output + cache write + cache read, each `tokens x rate`;
- cache writes split into the 5-minute part (`cache_creation_input_token_cost`) and the 1-hour part
  (`cache_creation_input_token_cost_above_1hr`, falling back to the 5-minute rate when absent);
- the `*_above_200k_tokens` rates apply to the tokens of that kind beyond 200,000 in one request
  (ccusage's per-kind rule; Anthropic's own long-context rule keys on the whole prompt, but the two only
  differ for requests whose prompt crosses 200k without any single kind doing so);
- `usage.speed == "fast"` multiplies the request by `provider_specific_entry.fast` when the table has it.
An unknown model has no cost (None), never a silent 0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from claimback.core.lazyre import lazy_compile
from claimback.errors import BadInput

TIER_THRESHOLD = 200_000
CostMode = Literal["auto", "calculate", "display"]
COST_MODES: tuple[str, ...] = ("auto", "calculate", "display")

# Tried in order after the exact name, like ccusage's provider prefixes.
_PREFIXES = ("anthropic/", "anthropic.")
_DATE_SUFFIX = lazy_compile(r"[-@](\d{8})$")
# When only a fuzzy match exists, prefer first-party prices over cloud resellers' regional ones.
_PROVIDER_RANK = {"anthropic": 0, "bedrock": 1, "bedrock_converse": 2, "vertex_ai-anthropic_models": 3}


@dataclass(frozen=True)
class ModelPrice:
    """Per-token USD rates for one model (None = the table does not say)."""

    key: str
    input: float | None = None
    output: float | None = None
    cache_write: float | None = None
    cache_write_1h: float | None = None
    cache_read: float | None = None
    input_above: float | None = None
    output_above: float | None = None
    cache_write_above: float | None = None
    cache_write_1h_above: float | None = None
    cache_read_above: float | None = None
    fast_multiplier: float | None = None

    @classmethod
    def from_entry(cls, key: str, entry: dict[str, Any]) -> ModelPrice:
        def num(name: str) -> float | None:
            value = entry.get(name)
            return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

        specific = entry.get("provider_specific_entry")
        fast = specific.get("fast") if isinstance(specific, dict) else None
        return cls(
            key=key,
            input=num("input_cost_per_token"),
            output=num("output_cost_per_token"),
            cache_write=num("cache_creation_input_token_cost"),
            cache_write_1h=num("cache_creation_input_token_cost_above_1hr"),
            cache_read=num("cache_read_input_token_cost"),
            input_above=num("input_cost_per_token_above_200k_tokens"),
            output_above=num("output_cost_per_token_above_200k_tokens"),
            cache_write_above=num("cache_creation_input_token_cost_above_200k_tokens"),
            cache_write_1h_above=num("cache_creation_input_token_cost_above_1hr_above_200k_tokens"),
            cache_read_above=num("cache_read_input_token_cost_above_200k_tokens"),
            fast_multiplier=float(fast) if isinstance(fast, (int, float)) and not isinstance(fast, bool) else None,
        )

    # Rates per token kind: (base, above-200k). The 1-hour cache write falls back to the 5-minute rates.
    def rates(self) -> dict[str, tuple[float, float]]:
        def pair(base: float | None, above: float | None) -> tuple[float, float]:
            b = base or 0.0
            return b, (above if above is not None else b)

        w1h_base = self.cache_write_1h if self.cache_write_1h is not None else self.cache_write
        w1h_above = self.cache_write_1h_above
        if w1h_above is None and self.cache_write_1h is None:
            w1h_above = self.cache_write_above
        return {
            "input": pair(self.input, self.input_above),
            "output": pair(self.output, self.output_above),
            "cache_write_5m": pair(self.cache_write, self.cache_write_above),
            "cache_write_1h": pair(w1h_base, w1h_above),
            "cache_read": pair(self.cache_read, self.cache_read_above),
        }


@dataclass(frozen=True)
class TokenSums:
    """Token counts of one request, or sums over many with the part of each kind beyond 200k.

    The tiered price is linear in (tokens, tokens beyond the threshold), so a sum of requests can be
    priced exactly from these two sums per kind: cost = base*tokens + (above-base)*excess.
    """

    input: int = 0
    output: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    cache_read: int = 0
    input_excess: int = 0
    output_excess: int = 0
    cache_write_5m_excess: int = 0
    cache_write_1h_excess: int = 0
    cache_read_excess: int = 0

    @classmethod
    def one(cls, input: int, output: int, cache_write: int, cache_write_1h: int, cache_read: int) -> TokenSums:
        five = max(cache_write - cache_write_1h, 0)

        def ex(n: int) -> int:
            return max(n - TIER_THRESHOLD, 0)

        return cls(input, output, five, cache_write_1h, cache_read,
                   ex(input), ex(output), ex(five), ex(cache_write_1h), ex(cache_read))


# LiteLLM's whole table is a few MB; a file many times that is not one.
MAX_PRICING_BYTES = 32 * 1024 * 1024


class PricingTable:
    """Model name → `ModelPrice`, with ccusage-like name matching."""

    def __init__(self, entries: dict[str, Any], source: str, meta: dict[str, Any] | None = None) -> None:
        self.source = source
        self.meta = meta or {}
        self._entries: dict[str, dict[str, Any]] = {
            k: v for k, v in entries.items()
            if isinstance(v, dict) and not k.startswith("_") and k != "sample_spec"
        }
        self._lower = {k.lower(): k for k in self._entries}
        self._cache: dict[str, ModelPrice | None] = {}
        self._rates: dict[str, dict[str, tuple[float, float]]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    @classmethod
    def bundled(cls) -> PricingTable:
        return _bundled()

    @classmethod
    def from_file(cls, path: str | Path) -> PricingTable:
        from claimback.core.files import UnsafeFile, read_regular_bytes

        try:
            # Regular files only, non-blocking, capped (core/files.py): a FIFO here hung the command and
            # /dev/zero filled memory.
            data = json.loads(read_regular_bytes(path, MAX_PRICING_BYTES).decode("utf-8"))
        except UnsafeFile as exc:
            why = (f"is larger than {MAX_PRICING_BYTES // (1024 * 1024)} MiB" if str(exc).startswith("larger")
                   else "is not a regular file (a FIFO or a device?)")
            raise BadInput(f"pricing file {path} {why}") from None
        except IsADirectoryError:
            raise BadInput(f"pricing file {path} is a directory") from None
        except OSError as exc:
            raise BadInput(f"cannot read pricing file {path}: {exc.strerror or exc}") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadInput(f"pricing file {path} is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise BadInput(f"pricing file {path} is not a LiteLLM pricing table (expected an object of models)")
        table = cls(data, source=str(path), meta=data.get("_meta") if isinstance(data.get("_meta"), dict) else None)
        if not any("input_cost_per_token" in v or "output_cost_per_token" in v for v in table._entries.values()):
            raise BadInput(f"pricing file {path} has no model with input_cost_per_token (not LiteLLM's format?)")
        return table

    @classmethod
    def load(cls, path: str | Path | None) -> PricingTable:
        return cls.from_file(path) if path else cls.bundled()

    def describe(self) -> str:
        if self.meta.get("source"):
            return f"{self.meta['source']} (extracted {self.meta.get('extracted', '?')})"
        return self.source

    # -- matching ----------------------------------------------------------------------------------
    def lookup(self, model: str | None) -> ModelPrice | None:
        if not model:
            return None
        if model in self._cache:
            return self._cache[model]
        key = self._match(model)
        price = ModelPrice.from_entry(key, self._entries[key]) if key else None
        self._cache[model] = price
        return price

    def _exact(self, name: str) -> str | None:
        if name in self._entries:
            return name
        return self._lower.get(name.lower())

    def _match(self, model: str) -> str | None:
        names = [model]
        for prefix in ("anthropic/", "anthropic."):
            if model.startswith(prefix):
                names.append(model[len(prefix):])
        dated = _DATE_SUFFIX.search(model)
        if dated:
            names.append(model[: dated.start()])
        for name in names:
            for candidate in (name, *(p + name for p in _PREFIXES)):
                found = self._exact(candidate)
                if found:
                    return found
        # Fuzzy, as ccusage does: a key containing the name (e.g. a cloud id around it), else the longest
        # key the name contains. Ties go to first-party prices, then the shortest key.
        lower = model.lower()
        containing = [k for k in self._entries if lower in k.lower()]
        if containing:
            return min(containing, key=self._fuzzy_rank)
        contained = [k for k in self._entries if len(k) >= 8 and k.lower() in lower]
        if contained:
            return max(contained, key=len)
        return None

    def _fuzzy_rank(self, key: str) -> tuple[int, int, str]:
        provider = self._entries[key].get("litellm_provider")
        return _PROVIDER_RANK.get(provider, 9) if isinstance(provider, str) else 9, len(key), key

    # -- cost --------------------------------------------------------------------------------------
    def cost_of(self, model: str | None, tokens: TokenSums, speed: str | None = None) -> float | None:
        """USD for these tokens of one model, or None when the model is not in the table."""
        price = self.lookup(model)
        if price is None:
            return None
        rates = self._rates.get(price.key)
        if rates is None:
            rates = self._rates[price.key] = price.rates()
        total = 0.0
        for kind, count, excess in (
            ("input", tokens.input, tokens.input_excess),
            ("output", tokens.output, tokens.output_excess),
            ("cache_write_5m", tokens.cache_write_5m, tokens.cache_write_5m_excess),
            ("cache_write_1h", tokens.cache_write_1h, tokens.cache_write_1h_excess),
            ("cache_read", tokens.cache_read, tokens.cache_read_excess),
        ):
            if count:
                base, above = rates[kind]
                total += base * count + (above - base) * excess
        if speed == "fast" and price.fast_multiplier:
            total *= price.fast_multiplier
        return total

    def request_cost(self, model: str | None, input: int, output: int, cache_write: int,
                     cache_write_1h: int, cache_read: int, speed: str | None = None) -> float | None:
        return self.cost_of(model, TokenSums.one(input, output, cache_write, cache_write_1h, cache_read), speed)


def choose_cost(mode: str, calculated: float | None, recorded: float | None) -> float | None:
    """ccusage's cost modes: display = the transcript's costUSD; calculate = from tokens; auto = the
    recorded cost when present, else calculated."""
    if mode == "display":
        return recorded
    if mode == "calculate":
        return calculated
    return recorded if recorded is not None else calculated


@lru_cache(maxsize=1)
def _bundled() -> PricingTable:
    # Read beside this package when it is a directory (every pip install): importing importlib.resources
    # costs ~7 ms of a report's start-up (tempfile, zipfile, ...); it stays for zip imports.
    path = Path(__file__).parent.parent / "data" / "pricing.json"
    if path.is_file():
        text = path.read_text(encoding="utf-8")
    else:
        from importlib import resources

        text = resources.files("claimback").joinpath("data", "pricing.json").read_text(encoding="utf-8")
    data = json.loads(text)
    return PricingTable(data, source="bundled", meta=data.get("_meta"))
