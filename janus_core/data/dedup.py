"""Exact and near-duplicate detection: normalised-text hashes and MinHash LSH.

Near duplicates are pairs whose word 5-gram sets have a Jaccard similarity at or above the
threshold (default 0.8), found with locality-sensitive hashing rather than by comparing all pairs.
The MinHash is computed here in numpy (datasketch's ``MinHash`` hashes one n-gram at a time in
Python, several times slower per text); the bands and rows are the ones datasketch's ``MinHashLSH``
picks, and the index is a temporary SQLite file rather than datasketch's in-memory dicts, so memory
stays flat over a long run.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import zlib
from typing import Any

import numpy as np

_WORD = re.compile(r"[^\W_]+")
#: datasketch's universal hashing: (a * h + b) mod a Mersenne prime, cut to 32 bits
_MERSENNE = np.uint64((1 << 61) - 1)
_MAX_HASH = np.uint64((1 << 32) - 1)
#: odd multipliers that mix a word n-gram's word hashes (n up to 32)
_GRAM_MIX = np.random.default_rng(1).integers(1, 2**63, size=32, dtype=np.uint64) | np.uint64(1)
#: a band key also depends on its band's number, so one table holds every band
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
PRAGMA cache_size = -16384;
CREATE TABLE exact (digest BLOB PRIMARY KEY, key TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE texts (row INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, signature BLOB NOT NULL);
CREATE TABLE bands (band_key INTEGER NOT NULL, row INTEGER NOT NULL, PRIMARY KEY (band_key, row)) WITHOUT ROWID;
"""

#: texts remembered in memory before they are written to the index in one go
FLUSH_EVERY = 512


def _signed(value: int) -> int:
    """A 64-bit unsigned key as SQLite's signed INTEGER."""
    return value - (1 << 64) if value >= 1 << 63 else value


class Deduper:
    """Remembers texts; ``check_and_add`` says which earlier text a new one duplicates, if any.

    Signatures are MinHashes over word n-gram hashes (``num_perm`` multiply-shift hash functions,
    one numpy expression per text), banded with the b and r that datasketch's MinHashLSH picks for
    the threshold. The index (exact keys, band keys, signatures) lives in a private temporary SQLite
    database, on disk and deleted when the deduper goes, so memory stays flat however many texts it
    remembers (a 16 MB page cache and the last ``FLUSH_EVERY`` texts, which are written in one go).
    """

    def __init__(self, threshold: float = 0.8, num_perm: int = 128, ngram: int = 5):
        from datasketch import MinHashLSH

        self.threshold, self.num_perm, self.ngram = threshold, num_perm, ngram
        # bands weighted for recall (a pair at Jaccard 0.9 is missed once in a thousand); each
        # candidate is then checked on its signature, which keeps precision
        lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=(0.1, 0.9))
        self.bands, self.rows_per_band = lsh.b, lsh.r
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
        self._band_query = f"SELECT row FROM bands WHERE band_key IN ({','.join('?' * self.bands)})"
        self._rows = 0
        # what is remembered but not yet written: exact keys, band key -> rows, row -> (key, signature)
        self._new_exact: dict[bytes, str] = {}
        self._new_bands: dict[int, list[int]] = {}
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

    def _band_keys(self, signature: np.ndarray) -> list[int]:
        bands = signature[: self.bands * self.rows_per_band].reshape(self.bands, self.rows_per_band)
        keys = (bands.astype(np.uint64) * self._mix).sum(axis=1, dtype=np.uint64) + self._band_offsets
        return [_signed(k) for k in keys.tolist()]

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

    def _near(self, signature: np.ndarray, band_keys: list[int]) -> tuple[str, str] | None:
        candidates: list[tuple[int, str, np.ndarray]] = []
        stored = list({row for (row,) in self._db.execute(self._band_query, band_keys)})
        if stored:
            marks = ",".join("?" * len(stored))
            for row, key, blob in self._db.execute(f"SELECT row, key, signature FROM texts WHERE row IN ({marks})",
                                                   stored):
                candidates.append((row, key, np.frombuffer(blob, dtype=np.uint32)))
        new_rows = {row for band_key in band_keys for row in self._new_bands.get(band_key, ())}
        candidates += [(row, *self._new_texts[row]) for row in new_rows]
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
            for band_key in band_keys:
                self._new_bands.setdefault(band_key, []).append(row)
        if len(self._new_exact) >= FLUSH_EVERY:
            self._flush()

    def _flush(self) -> None:
        db = self._db
        db.executemany("INSERT OR REPLACE INTO exact VALUES (?, ?)", self._new_exact.items())
        keys = list(self._new_keys)
        known: set[str] = set()
        for start in range(0, len(keys), 500):  # a key remembered before keeps its first text
            part = keys[start:start + 500]
            known.update(k for (k,) in db.execute(f"SELECT key FROM texts WHERE key IN ({','.join('?' * len(part))})",
                                                  part))
        db.executemany("INSERT INTO texts VALUES (?, ?, ?)",
                       [(row, key, signature.tobytes()) for row, (key, signature) in self._new_texts.items()
                        if key not in known])
        db.executemany("INSERT OR IGNORE INTO bands VALUES (?, ?)",
                       [(band_key, row) for band_key, rows in self._new_bands.items() for row in rows
                        if self._new_texts[row][0] not in known])
        self._new_exact, self._new_bands, self._new_texts, self._new_keys = {}, {}, {}, set()

    def check_and_add(self, key: str, text: str) -> tuple[str, str] | None:
        """("exact" | "near", the earlier key) for a duplicate; else remember the text and return None."""
        found, token = self.query(text)
        if found is None:
            self.add(key, token)
        return found
