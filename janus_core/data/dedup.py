"""Exact and near-duplicate detection: normalised-text hashes and MinHash LSH (datasketch).

Near duplicates are pairs whose word 5-gram sets have a Jaccard similarity at or above the
threshold (default 0.8), found with locality-sensitive hashing rather than by comparing all pairs.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from typing import Any

import numpy as np

_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def exact_key(text: str) -> str:
    """Hash of the text with case, punctuation and spacing normalised away."""
    return hashlib.sha256(" ".join(words(text)).encode("utf-8")).hexdigest()


def shingles(text: str, n: int = 5) -> set[str]:
    tokens = words(text)
    if len(tokens) < n:
        return {" ".join(tokens)}
    return {" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


def _hash32(shingle: str) -> int:
    # CRC-32: fast (C) and the same in every process, so a rerun decides exactly as the first run
    return zlib.crc32(shingle.encode("utf-8"))


class Deduper:
    """Remembers texts; ``check_and_add`` says which earlier text a new one duplicates, if any.

    Signatures are datasketch MinHashes. The banded index is kept here rather than in datasketch's
    MinHashLSH, whose storage costs a set per bucket (about 3 KB a text with 14 bands): here a
    bucket is one dictionary entry holding a row number, about 100 bytes.
    """

    def __init__(self, threshold: float = 0.8, num_perm: int = 128, ngram: int = 5):
        from datasketch import MinHash, MinHashLSH

        self.threshold, self.num_perm, self.ngram = threshold, num_perm, ngram
        self.exact: dict[bytes, str] = {}
        # bands weighted for recall (a pair at Jaccard 0.9 is missed once in a thousand); each
        # candidate is then checked on its signature, which keeps precision
        lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=(0.1, 0.9))
        self.bands, self.rows_per_band = lsh.b, lsh.r
        self._tables: list[dict[int, int | list[int]]] = [{} for _ in range(self.bands)]
        self._mix = np.random.default_rng(0).integers(1, 2**63, size=self.rows_per_band, dtype=np.uint64) | 1
        self.keys: list[str] = []
        self._known: set[str] = set()
        self._signatures = np.zeros((0, num_perm), dtype=np.uint32)
        # permutations drawn once and shared: drawing them per MinHash costs more than hashing
        template = MinHash(num_perm=num_perm, hashfunc=_hash32)
        self._minhash_args = {"num_perm": num_perm, "hashfunc": _hash32, "permutations": template.permutations,
                              "scheme": template.scheme}

    def _signature(self, text: str) -> np.ndarray:
        from datasketch import MinHash

        m = MinHash(**self._minhash_args)
        m.update_batch(list(shingles(text, self.ngram)))
        return m.hashvalues.astype(np.uint32)

    def _band_keys(self, signature: np.ndarray) -> list[int]:
        bands = signature[: self.bands * self.rows_per_band].reshape(self.bands, self.rows_per_band)
        return (bands.astype(np.uint64) * self._mix).sum(axis=1, dtype=np.uint64).tolist()

    def query(self, text: str) -> tuple[tuple[str, str] | None, Any]:
        """("exact" | "near", the earlier key) if ``text`` duplicates a remembered text, else None;
        and a token for ``add`` (the work already done on the text)."""
        digest = bytes.fromhex(exact_key(text)[:32])
        if digest in self.exact:
            return ("exact", self.exact[digest]), (digest, None, None)
        signature = self._signature(text)
        token = (digest, signature, self._band_keys(signature))
        return self.requery(token), token

    def requery(self, token: Any) -> tuple[str, str] | None:
        """``query`` again for a text already worked on (others may have been added since)."""
        digest, signature, band_keys = token
        if digest in self.exact:
            return "exact", self.exact[digest]
        if signature is None:
            return None
        candidates: set[int] = set()
        for table, key in zip(self._tables, band_keys, strict=True):
            found = table.get(key)
            if found is not None:
                candidates.update(found if isinstance(found, list) else (found,))
        if not candidates:
            return None
        rows = sorted(candidates)
        similarity = (self._signatures[rows] == signature).mean(axis=1)
        best = int(similarity.argmax())
        return ("near", self.keys[rows[best]]) if similarity[best] >= self.threshold else None

    def add(self, key: str, token: Any) -> None:
        """Remember a text that ``query`` found new."""
        digest, signature, band_keys = token
        self.exact[digest] = key
        if signature is None or key in self._known:
            return
        row = len(self.keys)
        if row == len(self._signatures):  # grow by doubling, not a copy per text
            grown = np.zeros((max(1024, 2 * row), self.num_perm), dtype=np.uint32)
            grown[:row] = self._signatures[:row]
            self._signatures = grown
        self._signatures[row] = signature
        self.keys.append(key)
        self._known.add(key)
        for table, band_key in zip(self._tables, band_keys, strict=True):
            found = table.get(band_key)
            if found is None:
                table[band_key] = row
            elif isinstance(found, list):
                found.append(row)
            else:
                table[band_key] = [found, row]

    def check_and_add(self, key: str, text: str) -> tuple[str, str] | None:
        """("exact" | "near", the earlier key) for a duplicate; else remember the text and return None."""
        found, token = self.query(text)
        if found is None:
            self.add(key, token)
        return found
