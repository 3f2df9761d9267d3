"""Prices per token from litellm's price table, read from its JSON file without importing litellm."""

from __future__ import annotations

import importlib.util
import json
from functools import cache
from pathlib import Path

PRICE_FILE = "model_prices_and_context_window_backup.json"


@cache
def price_table() -> dict[str, dict]:
    spec = importlib.util.find_spec("litellm")
    if spec is None or spec.origin is None:
        return {}
    path = Path(spec.origin).parent / PRICE_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def prices(model: str) -> tuple[float, float] | None:
    """(input, output) dollars per token for a model name, with or without a provider prefix."""
    table = price_table()
    for name in (model, model.split("/", 1)[-1], model.rsplit("/", 1)[-1]):
        entry = table.get(name)
        if entry and "input_cost_per_token" in entry:
            return float(entry["input_cost_per_token"]), float(entry.get("output_cost_per_token", 0.0))
    return None


def cost_of(model: str, tokens_in: int, tokens_out: int) -> float:
    """Dollars for one request; 0.0 for models without a known price (local models)."""
    price = prices(model)
    return 0.0 if price is None else tokens_in * price[0] + tokens_out * price[1]
