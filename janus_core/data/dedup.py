"""Exact and near-duplicate detection: normalised-text hashes and MinHash LSH.

Near duplicates are pairs whose word 5-gram sets have a Jaccard similarity at or above the
threshold (default 0.8), found with locality-sensitive hashing rather than by comparing all pairs.
Written here in numpy rather than with datasketch: its ``MinHash`` hashes one n-gram at a time in
Python (several times the CPU per text), its in-memory LSH index grows by over a kilobyte a text, and
importing it (scipy) takes a third of a second. The bands and rows are still the ones datasketch's
``MinHashLSH`` picks (``lsh_bands``, checked against it by the tests).
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import zlib
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import numpy as np

_WORD = re.compile(r"[^\W_]+")
_MAX_HASH = np.uint64((1 << 32) - 1)
#: odd multipliers that mix a word n-gram's word hashes (n up to 32)
_GRAM_MIX = np.random.default_rng(1).integers(1, 2**63, size=32, dtype=np.uint64) | np.uint64(1)
#: a band key also depends on its band's number, so one index holds every band
_BAND_MIX = 0x9E3779B97F4A7C15


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def exact_key(text: str) -> str:
    """Hash of the text with case, punctuation and spacing normalised away."""
    return _exact_key(words(text))


def _exact_key(tokens: list[str]) -> str:
    return hashlib.sha256(" ".join(tokens).encode("utf-8")).hexdigest()


def _hash32(word: str) -> int:
    # CRC-32: fast (C) and the same in every process, so a rerun decides exactly as the first run
    return zlib.crc32(word.encode("utf-8"))


def gram_hashes(tokens: list[str], n: int) -> np.ndarray:
    """32-bit hashes of the word n-grams of ``tokens`` (of the whole text when it is shorter than n):
    each word is hashed once and an n-gram's hash mixes its words' hashes, in one numpy expression."""
    hashes = np.fromiter((_hash32(t) for t in tokens), dtype=np.uint64, count=len(tokens))
    if len(tokens) < n:
        grams = (hashes * _GRAM_MIX[: len(tokens)]).sum(dtype=np.uint64, keepdims=True)
    else:
        count = len(tokens) - n + 1
        grams = hashes[:count] * _GRAM_MIX[0]
        for i in range(1, n):
            grams += hashes[i:i + count] * _GRAM_MIX[i]
    return (grams >> np.uint64(32)) ^ (grams & _MAX_HASH)


_SCHEMA = """
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
PRAGMA cache_size = -4096;
CREATE TABLE exact (digest BLOB PRIMARY KEY, key TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE texts (row INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, signature BLOB NOT NULL);
"""

#: texts remembered in memory before they are written to the index in one go
FLUSH_EVERY = 512


def lsh_bands(threshold: float, num_perm: int, weights: tuple[float, float] = (0.5, 0.5)) -> tuple[int, int]:
    """(bands, rows per band) minimising the weighted false positive and false negative probability
    mass around ``threshold``: the choice datasketch's ``MinHashLSH`` makes, computed for every pair
    at once in numpy (importing datasketch takes a third of a second, for these two numbers)."""
    pairs = [(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)]
    b = np.array([p[0] for p in pairs], dtype=float)[:, None]
    r = np.array([p[1] for p in pairs], dtype=float)[:, None]
    low, high = np.linspace(0.0, threshold, 2001), np.linspace(threshold, 1.0, 2001)
    false_positive = np.trapezoid(1 - (1 - low ** r) ** b, low, axis=1)
    false_negative = np.trapezoid((1 - high ** r) ** b, high, axis=1)
    return pairs[int(np.argmin(weights[0] * false_positive + weights[1] * false_negative))]


@lru_cache(maxsize=16)
def _bands_for(threshold: float, num_perm: int) -> tuple[int, int]:
    # weighted for recall (a pair at Jaccard 0.9 is missed once in a thousand); each candidate is
    # then checked on its signature, which keeps precision
    return lsh_bands(threshold, num_perm, weights=(0.1, 0.9))


class BandIndex:
    """Band key -> the rows of the texts that have it (a multimap): two sorted numpy arrays (12 bytes
    an entry, about 170 bytes a text at the default 14 bands) and the newest entries in a dict,
    merged into the arrays at each flush. A look-up is one ``searchsorted`` for all of a text's bands."""

    def __init__(self) -> None:
        self.keys = np.empty(0, dtype=np.uint64)
        self.rows = np.empty(0, dtype=np.uint32)
        self.recent: dict[int, list[int]] = {}
        self._pending: list[tuple[np.ndarray, int]] = []

    def add(self, keys: np.ndarray, row: int) -> None:
        for key in keys.tolist():
            self.recent.setdefault(key, []).append(row)
        self._pending.append((keys, row))

    def lookup(self, keys: np.ndarray) -> set[int]:
        """The rows that have at least one of ``keys``."""
        found: set[int] = set()
        if len(self.keys):
            lo = np.searchsorted(self.keys, keys)
            hi = np.searchsorted(self.keys, keys, side="right")
            hit = lo < hi
            if hit.any():
                for start, stop in zip(lo[hit].tolist(), hi[hit].tolist(), strict=True):
                    found.update(self.rows[start:stop].tolist())
        for key in keys.tolist():
            rows = self.recent.get(key)
            if rows:
                found.update(rows)
        return found

    def merge(self, dropped: set[int]) -> None:
        """Move the newest entries into the sorted arrays, leaving out the rows in ``dropped``."""
        pending = [(keys, row) for keys, row in self._pending if row not in dropped]
        self._pending, self.recent = [], {}
        if not pending:
            return
        keys = np.concatenate([k for k, _ in pending])
        rows = np.repeat(np.array([row for _, row in pending], dtype=np.uint32), [len(k) for k, _ in pending])
        order = np.argsort(keys, kind="stable")
        at = np.searchsorted(self.keys, keys[order], side="right")
        self.keys = np.insert(self.keys, at, keys[order])
        self.rows = np.insert(self.rows, at, rows[order])


class Deduper:
    """Remembers texts; ``check_and_add`` says which earlier text a new one duplicates, if any.

    Signatures are MinHashes over word n-gram hashes (``num_perm`` multiply-shift hash functions,
    one numpy expression per text), banded with the b and r that datasketch's MinHashLSH picks for
    the threshold. The band index is in memory (``BandIndex``: about 8 MB for 50,000 texts); the
    exact keys and the signatures, looked at only for a candidate, live in a private temporary SQLite
    database on disk, deleted when the deduper goes (a 4 MB page cache, and the last
    ``FLUSH_EVERY`` texts in memory, written in one go).
    """

    def __init__(self, threshold: float = 0.8, num_perm: int = 128, ngram: int = 5):
        self.threshold, self.num_perm, self.ngram = threshold, num_perm, ngram
        self.bands, self.rows_per_band = _bands_for(threshold, num_perm)
        rng = np.random.default_rng(0)
        self._mix = rng.integers(1, 2**63, size=self.rows_per_band, dtype=np.uint64) | np.uint64(1)
        self._band_offsets = np.arange(self.bands, dtype=np.uint64) * np.uint64(_BAND_MIX)
        # h -> (a * h + b) >> 32 over 64 bits, a odd: a hash function per permutation
        self._a = rng.integers(1, 2**63, size=num_perm, dtype=np.uint64) | np.uint64(1)
        self._b = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64)
        self._db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        self._db.executescript(_SCHEMA)
        # one transaction for the deduper's life: nothing here needs to survive it, and a commit per
        # text would cost more than the rest of the work on it
        self._db.execute("BEGIN")
        self._index = BandIndex()
        self._rows = 0
        # what is remembered but not yet written: exact keys, row -> (key, signature)
        self._new_exact: dict[bytes, str] = {}
        self._new_texts: dict[int, tuple[str, np.ndarray]] = {}
        self._new_keys: set[str] = set()

    def close(self) -> None:
        self._db.close()

    def __len__(self) -> int:
        return self._db.execute("SELECT count(*) FROM texts").fetchone()[0] + len(self._new_texts)

    def _signature(self, tokens: list[str]) -> np.ndarray:
        hashes = gram_hashes(tokens, self.ngram)
        permuted = (np.multiply.outer(hashes, self._a) + self._b) >> np.uint64(32)
        return permuted.min(axis=0).astype(np.uint32)

    def _band_keys(self, signature: np.ndarray) -> np.ndarray:
        bands = signature[: self.bands * self.rows_per_band].reshape(self.bands, self.rows_per_band)
        return (bands.astype(np.uint64) * self._mix).sum(axis=1, dtype=np.uint64) + self._band_offsets

    def query(self, text: str) -> tuple[tuple[str, str] | None, Any]:
        """("exact" | "near", the earlier key) if ``text`` duplicates a remembered text, else None;
        and a token for ``add`` (the work already done on the text)."""
        tokens = words(text)
        digest = bytes.fromhex(_exact_key(tokens)[:32])
        earlier = self._exact(digest)
        if earlier is not None:
            return ("exact", earlier), (digest, None, None)
        signature = self._signature(tokens)
        token = (digest, signature, self._band_keys(signature))
        return self._near(signature, token[2]), token

    def _exact(self, digest: bytes) -> str | None:
        found = self._new_exact.get(digest)
        if found is not None:
            return found
        row = self._db.execute("SELECT key FROM exact WHERE digest = ?", (digest,)).fetchone()
        return row[0] if row else None

    def _near(self, signature: np.ndarray, band_keys: np.ndarray) -> tuple[str, str] | None:
        rows = self._index.lookup(band_keys)
        if not rows:
            return None
        candidates: list[tuple[int, str, np.ndarray]] = [(row, *self._new_texts[row]) for row in rows
                                                         if row in self._new_texts]
        stored = [row for row in rows if row not in self._new_texts]
        for row, key, blob in self._select_in("SELECT row, key, signature FROM texts WHERE row", stored):
            candidates.append((row, key, np.frombuffer(blob, dtype=np.uint32)))
        if not candidates:
            return None
        candidates.sort(key=lambda c: c[0])  # the earliest of equally close texts
        similarity = (np.stack([c[2] for c in candidates]) == signature).mean(axis=1)
        best = int(similarity.argmax())
        return ("near", candidates[best][1]) if similarity[best] >= self.threshold else None

    def requery(self, token: Any) -> tuple[str, str] | None:
        """``query`` again for a text already worked on (others may have been added since)."""
        digest, signature, band_keys = token
        earlier = self._exact(digest)
        if earlier is not None:
            return "exact", earlier
        if signature is None:
            return None
        return self._near(signature, band_keys)

    def add(self, key: str, token: Any) -> None:
        """Remember a text that ``query`` found new."""
        digest, signature, band_keys = token
        self._new_exact[digest] = key
        if signature is not None and key not in self._new_keys:
            row = self._rows
            self._rows += 1
            self._new_texts[row] = (key, signature)
            self._new_keys.add(key)
            self._index.add(band_keys, row)
        if len(self._new_exact) >= FLUSH_EVERY:
            self._flush()

    def _flush(self) -> None:
        db = self._db
        db.executemany("INSERT OR REPLACE INTO exact VALUES (?, ?)", self._new_exact.items())
        # a key remembered before keeps its first text
        known = {key for (key,) in self._select_in("SELECT key FROM texts WHERE key", list(self._new_keys))}
        dropped = {row for row, (key, _) in self._new_texts.items() if key in known}
        db.executemany("INSERT INTO texts VALUES (?, ?, ?)",
                       [(row, key, signature.tobytes()) for row, (key, signature) in self._new_texts.items()
                        if row not in dropped])
        self._index.merge(dropped)
        self._new_exact, self._new_texts, self._new_keys = {}, {}, set()

    def _select_in(self, query: str, values: list[Any]) -> Iterator[tuple[Any, ...]]:
        """The rows of ``query IN (values)``, asked 500 values at a time (SQLite's parameter limit)."""
        for start in range(0, len(values), 500):
            part = values[start:start + 500]
            yield from self._db.execute(f"{query} IN ({','.join('?' * len(part))})", part)

    def check_and_add(self, key: str, text: str) -> tuple[str, str] | None:
        """("exact" | "near", the earlier key) for a duplicate; else remember the text and return None."""
        found, token = self.query(text)
        if found is None:
            self.add(key, token)
        return found


def whole_text(record: Any) -> str:
    """Every turn of a record (a Record or its dict), the system message left out: what a whole-record
    comparison reads."""
    messages = record.get("messages", []) if isinstance(record, dict) else record.messages
    return "\n".join(m["content"] for m in messages
                     if isinstance(m, dict) and m.get("role") != "system" and isinstance(m.get("content"), str))


class Lineages:
    """Near copies inside a lineage (a seed and every record evolved from it).

    A new record is a near copy when at least ``threshold`` of the word n-grams of what it adds (its
    new turns, or for a rewrite all of it) already appear in the whole conversation of one record of
    its lineage: its parent's, say, when a derivation repeats its parent's turns. Containment rather
    than Jaccard, so a long conversation that grows by one new turn is not a copy of the one it grew
    from. Each remembered record's n-gram hashes (4 bytes an n-gram) live in a private temporary SQLite
    database on disk, looked up by lineage; lineages are small, so each check reads a few rows.
    """

    def __init__(self, threshold: float = 0.8, ngram: int = 5):
        self.threshold, self.ngram = threshold, ngram
        self._db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        self._db.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -4096;"
                               "CREATE TABLE grams (lineage TEXT NOT NULL, key TEXT NOT NULL, hashes BLOB NOT NULL,"
                               " PRIMARY KEY (lineage, key)) WITHOUT ROWID;")
        self._db.execute("BEGIN")  # nothing here needs to outlive the object: no commit per record

    def close(self) -> None:
        self._db.close()

    def grams(self, text: str) -> np.ndarray:
        """The distinct n-gram hashes of ``text`` (uint32, sorted)."""
        tokens = words(text)
        if not tokens:
            return np.empty(0, dtype=np.uint32)
        return np.unique(gram_hashes(tokens, self.ngram).astype(np.uint32))

    def copied(self, lineage: str, added: str, parent: tuple[str, str] | None = None) -> tuple[str, float] | None:
        """(the key of the lineage's record whose conversation holds the most of ``added``, the share it
        holds) when that share is at least the threshold; else None. ``parent`` (key, whole text) is
        compared too, remembered or not (a conversation given with --input)."""
        new = self.grams(added)
        if not len(new):
            return None
        rows = self._db.execute("SELECT key, hashes FROM grams WHERE lineage = ?", (lineage,)).fetchall()
        candidates = [(key, np.frombuffer(blob, dtype=np.uint32)) for key, blob in rows]
        if parent is not None and parent[0] not in {key for key, _ in rows}:
            candidates.append((parent[0], self.grams(parent[1])))
        best: tuple[str, float] | None = None
        for key, hashes in candidates:
            share = float(np.isin(new, hashes, assume_unique=True).mean())
            if share >= self.threshold and (best is None or share > best[1]):
                best = (key, share)
        return best

    def add(self, lineage: str, key: str, whole: str) -> None:
        """Remember a kept record's whole conversation under its lineage."""
        self._db.execute("INSERT OR REPLACE INTO grams VALUES (?, ?, ?)", (lineage, key, self.grams(whole).tobytes()))
