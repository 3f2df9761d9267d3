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
    """Remembers texts; ``check_and_add`` says which earlier text a new one duplicates, if any."""

    def __init__(self, threshold: float = 0.8, num_perm: int = 128, ngram: int = 5):
        from datasketch import MinHash, MinHashLSH

        self.threshold, self.num_perm, self.ngram = threshold, num_perm, ngram
        self.exact: dict[str, str] = {}
        # bands weighted for recall (a pair at Jaccard 0.9 is missed once in a thousand); each
        # candidate is then checked on its signature, which keeps precision
        self.lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=(0.1, 0.9))
        self._rows: dict[str, int] = {}
        self._signatures = np.zeros((0, num_perm), dtype=np.uint32)
        # permutations drawn once and shared: drawing them per MinHash costs more than hashing
        template = MinHash(num_perm=num_perm, hashfunc=_hash32)
        self._minhash_args = {"num_perm": num_perm, "hashfunc": _hash32, "permutations": template.permutations,
                              "scheme": template.scheme}

    def _minhash(self, text: str) -> Any:
        from datasketch import MinHash

        m = MinHash(**self._minhash_args)
        m.update_batch(list(shingles(text, self.ngram)))
        return m

    def query(self, text: str) -> tuple[tuple[str, str] | None, Any]:
        """("exact" | "near", the earlier key) if ``text`` duplicates a remembered text, else None;
        and a token for ``add`` (the work already done on the text)."""
        digest = exact_key(text)
        if digest in self.exact:
            return ("exact", self.exact[digest]), (digest, None)
        token = (digest, self._minhash(text))
        return self.requery(token), token

    def requery(self, token: Any) -> tuple[str, str] | None:
        """``query`` again for a text already worked on (others may have been added since)."""
        digest, m = token
        if digest in self.exact:
            return "exact", self.exact[digest]
        if m is None:
            return None
        candidates = self.lsh.query(m)
        if not candidates:
            return None
        rows = [self._rows[key] for key in candidates]
        similarity = (self._signatures[rows] == m.hashvalues.astype(np.uint32)).mean(axis=1)
        best = int(similarity.argmax())
        return ("near", candidates[best]) if similarity[best] >= self.threshold else None

    def add(self, key: str, token: Any) -> None:
        """Remember a text that ``query`` found new."""
        digest, m = token
        self.exact[digest] = key
        if m is not None and key not in self._rows:
            self.lsh.insert(key, m)
            if len(self._rows) == len(self._signatures):  # grow by doubling, not a copy per text
                grown = np.zeros((max(1024, 2 * len(self._signatures)), self.num_perm), dtype=np.uint32)
                grown[: len(self._rows)] = self._signatures[: len(self._rows)]
                self._signatures = grown
            self._signatures[len(self._rows)] = m.hashvalues
            self._rows[key] = len(self._rows)

    def check_and_add(self, key: str, text: str) -> tuple[str, str] | None:
        """("exact" | "near", the earlier key) for a duplicate; else remember the text and return None."""
        found, token = self.query(text)
        if found is None:
            self.add(key, token)
        return found
