"""What an LLM call cost: the price table of `llm.prices` applied to one call's `Usage`.

A call is priced once, by the worker that made it, when its answer is kept (`invoke_llm`): a
price changed later does not change what a task already cost. Its prompt tokens read from or
written to the vendor's prompt cache are part of `prompt_tokens` (`Usage`), so

    cost = ((prompt - cache_read - cache_creation) * input + cache_read * cache_read_price
            + cache_creation * cache_write_price + completion * output) / 1e6

A call whose model has no price, or whose server reported no usage, costs "unknown": it is
counted in `Usage.unpriced`, and its `cost` stays 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase

from ..config import PriceConfig
from .messages import Usage

__all__ = ["Prices"]


class Prices:
    """The price table (`llm.prices`), by `provider/model`: an exact key, else the first
    pattern (`*`, `?`, `[…]`) that matches, in the table's order."""

    def __init__(self, table: Mapping[str, PriceConfig]) -> None:
        self._table = dict(table)

    def of(self, model: str) -> PriceConfig | None:
        """The price of `model` (`provider/model`), or None when the table has none."""
        if model in self._table:
            return self._table[model]
        return next((p for key, p in self._table.items() if fnmatchcase(model, key)), None)

    def priced(self, model: str, usage: Usage) -> Usage:
        """One call's `usage` of `model` with its cost (or counted as unpriced)."""
        price = self.of(model)
        if price is None or usage.unreported:
            return usage.model_copy(update={"cost": 0.0, "unpriced": 1})
        read, written = usage.cache_read_tokens, usage.cache_creation_tokens
        uncached = max(usage.prompt_tokens - read - written, 0)
        cache_read = price.input if price.cache_read is None else price.cache_read
        cache_write = price.input if price.cache_write is None else price.cache_write
        micro = (
            uncached * price.input
            + read * cache_read
            + written * cache_write
            + usage.completion_tokens * price.output
        )
        return usage.model_copy(update={"cost": micro / 1_000_000, "unpriced": 0})
