"""``scrub`` masks a secret in the encodings a server may echo it in, and leaves other text alone."""

from __future__ import annotations

import base64
import json

import pytest
from conftest import fake_secret
from test_secret_echoes import leaks

from janus_core.sdk import credentials

#: has characters whose base64 holds '+' and '/' (so the URL-safe alphabet differs)
KEY = "sk-~?>Test~key?>" + fake_secret("forms")[-8:]


@pytest.fixture(autouse=True)
def only_key(monkeypatch):
    monkeypatch.setattr(credentials, "_loaded", set())
    for cache in ("_built", "_pattern"):  # the built pattern (named _pattern before)
        monkeypatch.setattr(credentials, cache, None, raising=False)
    credentials.remember(KEY)


def b64(data: bytes, urlsafe: bool = False) -> str:
    return (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(data).decode()


FORMS = {
    "as is": KEY,
    "upper": KEY.upper(),
    "lower": KEY.lower(),
    "mixed": "".join(c.swapcase() if i % 3 else c for i, c in enumerate(KEY)),
    "hex": KEY.encode().hex(),
    "HEX": KEY.encode().hex().upper(),
    "hex spaced": " ".join(f"{b:02x}" for b in KEY.encode()),
    "spaced": " ".join(KEY),
    "split by lines": f"{KEY[:5]}\n{KEY[5:11]}\r\n  {KEY[11:]}",
    "split by an escaped line break": f"{KEY[:9]}\\n{KEY[9:]}",
    "zero-width": "\u200b".join(KEY),
    "percent": "".join(f"%{b:02x}" for b in KEY.encode()),
    "percent, usual": KEY.replace("~", "%7E").replace("?", "%3F").replace(">", "%3E"),
    **{f"base64 at offset {n}{' urlsafe' if safe else ''}": b64(b"\x00\xfb"[:n] + KEY.encode() + b"\xff\x10", safe)
       for n in range(3) for safe in (False, True)},
    "base64 alone": b64(KEY.encode()),
    "base64 in lines of 76": "\n".join(b64(b"x" * 50 + KEY.encode() + b"y" * 50)[i:i + 76] for i in range(0, 200, 76)),
}


@pytest.mark.parametrize("name", sorted(FORMS))
def test_every_form_of_a_secret_is_masked(name):
    text = f"HTTP 401: invalid credentials: {FORMS[name]} (request abc)"
    masked = credentials.scrub(text)
    assert leaks(masked, KEY) == []  # found by decoding what is left, not by the scrubber's method
    assert masked.startswith("HTTP 401: invalid credentials: ") and masked.endswith(" (request abc)")
    assert "***" in masked
    assert credentials.holds_secret(text) and not credentials.holds_secret(masked)


def test_the_usual_urlsafe_base64_differs_from_standard():
    """The fixture key really exercises both alphabets."""
    standard = b64(KEY.encode())
    assert set("+/") & set(standard) and b64(KEY.encode(), True) != standard


def test_ordinary_text_and_json_are_left_alone():
    text = json.dumps({"instruction": "Plan our weekly budget meeting", "response": "Start with one hour. " * 50,
                       "blob": b64(bytes(range(256)) * 4), "hex": bytes(range(200)).hex()})
    assert not credentials.holds_secret(text)
    assert credentials.scrub(text) == text


def test_a_large_text_without_a_secret_is_scrubbed_in_one_pass():
    """Every reply and error goes through the scrubber: a text holding no secret is returned as is
    (the same object), without the masking pattern running over it."""
    text = "lorem ipsum dolor sit amet, " * 40_000
    assert credentials.scrub(text) is text
    assert credentials.scrub(text + KEY.upper()).endswith("***")


def test_short_and_unrelated_values_are_not_masked():
    credentials.remember("abc")
    assert credentials.scrub("abc ABC a b c") == "abc ABC a b c"
    assert credentials.scrub(f"{KEY[:-1]}!") == f"{KEY[:-1]}!"
