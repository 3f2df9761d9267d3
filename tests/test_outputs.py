"""Output types: schemas bounded by limits, parsers on good and malformed replies, derivation."""

from __future__ import annotations

import pytest
from janus_outputs import Conversation, Instruct

from janus_core.generation import ParseFailure, decode
from janus_core.interfaces import Limits
from janus_core.schema import max_json_chars


def test_schemas_carry_the_limits():
    limits = Limits(turns=4, message_chars=123)
    conv = Conversation().schema(limits)
    assert conv["properties"]["turns"]["maxItems"] == 4
    assert conv["properties"]["turns"]["items"]["properties"]["user"]["maxLength"] == 123
    assert Instruct().schema(limits)["properties"]["response"]["maxLength"] == 123


def test_bounded_schema_has_a_finite_size():
    small = max_json_chars(Conversation().schema(Limits(turns=1, message_chars=10)))
    large = max_json_chars(Conversation().schema(Limits(turns=2, message_chars=10)))
    assert small is not None and large > small
    assert max_json_chars({"type": "string"}) is None


def test_conversation_parser():
    messages = Conversation().parse({"turns": [{"user": " Hi ", "assistant": "Hello"},
                                               {"user": "Help?", "assistant": "Sure"}]})
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[0]["content"] == "Hi"


@pytest.mark.parametrize("bad, words", [
    ({"turns": []}, "empty"),
    ({"turns": [{"user": "", "assistant": "x"}]}, "turns.0.user"),
    ({"turns": [{"user": "x"}]}, "turns.0.assistant: Field required"),
    ({"conversations": []}, "turns: Field required"),
    (["not", "an", "object"], "valid dictionary"),
])
def test_conversation_parser_rejects(bad, words):
    with pytest.raises(ValueError, match=words.replace(".", r"\.")):
        Conversation().parse(bad)


@pytest.mark.parametrize("bad, words", [
    ({"instruction": "x"}, "response: Field required"),
    ({"instruction": 7, "response": "r"}, "instruction: Input should be a valid string"),
    ({"instruction": "   ", "response": "r"}, "instruction"),
])
def test_instruct_parser_rejects(bad, words):
    with pytest.raises(ValueError, match=words):
        Instruct().parse(bad)


def test_derivations():
    parent = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"},
              {"role": "assistant", "content": "a"}]
    new = [{"role": "user", "content": "u2"}, {"role": "assistant", "content": "a2"}]
    assert Conversation().derive(parent, new) == parent + new
    assert Instruct().derive(parent, new) == [parent[0], *new]


def test_decode_mends_and_refuses():
    assert decode('{"a": 1}') == {"a": 1}
    assert decode('Here it is:\n```json\n{"a": 1,}\n```') == {"a": 1}
    with pytest.raises(ParseFailure):
        decode("no json here at all")
