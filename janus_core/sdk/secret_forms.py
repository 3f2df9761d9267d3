"""The forms a secret takes when a server echoes it back, and one finder that masks them all.

A careless server may quote the key it was sent as is, upper- or mixed-cased, in hex, base64-encoded
(standard or URL-safe, at any of the three offsets it can have inside a longer base64 text),
percent-encoded, spaced out ("s k - a b c") or split across lines (also as the two characters
``\\n`` of a JSON string). ``SecretFinder`` finds and masks each of these forms of every secret.

It looks cheaply first (gaps removed, then plain substring tests, all in C) and runs its regular
expression only on a text that holds a form, so the texts that hold none (nearly every reply and
error message) cost a few passes over their characters.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from urllib.parse import quote, unquote

MASK = "***"
#: What replaces a whole text when a form of a secret in it could not be masked on its own.
WITHHELD = "(text withheld: it held a secret)"

#: Characters that may stand between two characters of an echoed secret (besides whitespace).
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
_DROP_INVISIBLE = str.maketrans(dict.fromkeys(_INVISIBLE))
_ESCAPED_BREAKS = ("\\n", "\\r", "\\t")
#: The ASCII characters ``str.split`` counts as whitespace.
_ASCII_SPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"
_GAP = rf"(?:[\s{_INVISIBLE}]|\\[nrt])*"
_URLSAFE = str.maketrans("+/", "-_")


def _closed_up(text: str) -> str:
    """``text`` without whitespace, zero-width characters and ``\\n``/``\\r``/``\\t`` escapes."""
    if text.isascii():  # the usual case: a few C-speed passes, no list of words
        for c in _ASCII_SPACE:
            if c in text:
                text = text.replace(c, "")
    else:
        text = "".join(text.split())
        if any(c in text for c in _INVISIBLE):
            text = text.translate(_DROP_INVISIBLE)
    if "\\" in text:
        for escape in _ESCAPED_BREAKS:
            text = text.replace(escape, "")
    return text


def base64_cores(secret: bytes) -> set[str]:
    """The base64 characters that encode ``secret``'s bytes and nothing else, for each of the three
    offsets at which it can start inside a longer base64 text, in the standard and URL-safe alphabets."""
    cores: set[str] = set()
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + secret).decode("ascii")
        first, end = -(-8 * offset // 6), 8 * (offset + len(secret)) // 6  # whole 6-bit groups of the secret
        core = encoded[first:end]
        cores |= {core, core.translate(_URLSAFE)}
    return cores


def _spread(pieces: list[str], ignore_case: bool) -> str:
    """A pattern of ``pieces`` in order, with any gap between two of them."""
    body = _GAP.join(pieces)
    return f"(?i:{body})" if ignore_case else body


def _char(c: str) -> str:
    """One character of a secret, as is or percent-encoded."""
    encoded = quote(c, safe="")
    if encoded == c:
        encoded = "".join(f"%{b:02X}" for b in c.encode("utf-8"))
    return f"(?:{re.escape(c)}|{re.escape(encoded)})"


class SecretFinder:
    """Finds and masks every form of a set of secrets."""

    def __init__(self, secrets: Iterable[str]):
        plain: set[str] = set()  # compared with the text lower-cased, and percent-decoded
        folded: set[str] = set()  # compared with the text lower-cased
        exact: set[str] = set()  # base64: compared as is
        patterns: list[tuple[int, str]] = []
        for secret in secrets:
            bare = _closed_up(secret)
            if not bare:
                continue
            raw = bare.encode("utf-8")
            plain.add(bare.lower())
            folded.add(raw.hex())
            cores = base64_cores(raw)
            exact |= cores
            patterns.append((len(bare), _spread([_char(c) for c in bare], ignore_case=True)))
            patterns.append((2 * len(raw), _spread(list(raw.hex()), ignore_case=True)))
            patterns += [(len(core), _spread([re.escape(c) for c in core], ignore_case=False)) for core in cores]
        self._plain = tuple(plain)
        self._folded = tuple(plain | folded)
        self._exact = tuple(exact)
        # longest first: a secret that holds another is masked whole
        self._pattern = re.compile("|".join(p for _, p in sorted(patterns, key=lambda x: -x[0])))

    def found(self, text: str) -> bool:
        """Whether ``text`` holds any form of any secret."""
        close = _closed_up(text)
        lower = close.lower()
        if any(form in lower for form in self._folded) or any(form in close for form in self._exact):
            return True
        if "%" in close:
            decoded = unquote(close).lower()
            return any(form in decoded for form in self._plain)
        return False

    def mask(self, text: str) -> str:
        """``text`` with every form of every secret replaced by MASK (or all of it by WITHHELD, if a
        form is found that the pattern cannot mask on its own)."""
        if not self.found(text):
            return text
        masked = self._pattern.sub(MASK, text)
        return WITHHELD if self.found(masked) else masked
