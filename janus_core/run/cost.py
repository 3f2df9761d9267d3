"""Prices per token from litellm's price table, read from its JSON file without importing litellm.

A run with ``--max-cost`` must be able to count what it spends: a model with no price is refused
before the run starts (``check_max_cost``), and a reply naming an unknown model is priced as the
model the run asked for (a server cannot make its replies free by renaming the model)."""

from __future__ import annotations

import importlib.util
import json
from functools import cache
from pathlib import Path

from janus_core.sdk.errors import JanusError

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


def cost_of(model: str, tokens_in: int, tokens_out: int, fallback: str | None = None) -> float:
    """Dollars for one request, at ``model``'s price or else ``fallback``'s (the model asked for);
    0.0 when neither has a known price (local models)."""
    price = prices(model) or (prices(fallback) if fallback else None)
    return 0.0 if price is None else tokens_in * price[0] + tokens_out * price[1]


def check_max_cost(max_cost: float | None, models: list[tuple[str, str]]) -> None:
    """Refuse ``--max-cost`` when a ``(backend, model)`` the run uses has no price: its spending
    would count as nothing and the limit would never stop the run."""
    if max_cost is None:
        return
    unpriced = [f"{model} (backend {backend})" for backend, model in models if prices(model) is None]
    if unpriced:
        raise JanusError(f"--max-cost {max_cost:g}: litellm's price table has no price for "
                         f"{', '.join(unpriced)}, so what the run spends cannot be counted and the limit would "
                         "never stop it. Bound the run with --max-requests instead, or choose a model with a "
                         "known price.")
