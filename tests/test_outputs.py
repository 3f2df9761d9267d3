"""Output types: schemas bounded by limits, parsers on good and malformed replies, derivation."""

from __future__ import annotations

import pytest
from janus_plugins.outputs import Conversation, Instruct

from janus_core.plan.jobs import ParseFailure, decode
from janus_core.sdk.contracts import Limits
from janus_core.sdk.schema import max_json_chars


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


def test_follow_up_parser():
    from janus_plugins.outputs.follow_up import FollowUp

    assert FollowUp().parse({"user": "Why?", "assistant": "Because."}) == [
        {"role": "user", "content": "Why?"}, {"role": "assistant", "content": "Because."}]
    with pytest.raises(ValueError, match="assistant: Field required"):
        FollowUp().parse({"user": "Why?"})
    with pytest.raises(ValueError, match="valid dictionary"):
        FollowUp().parse({"turns": []}["turns"])


def test_preference_judge_reply_parser():
    from janus_plugins.outputs import validate

    ratings = validate("ratings", {"ratings": [{"score": 4, "rationale": "good"}, {"score": 2, "rationale": "thin"}]})
    assert [r.score for r in ratings.ratings] == [4, 2]
    for bad, words in [({"ratings": [{"score": 7, "rationale": "x"}]}, "less than or equal to 5"),
                       ({"ratings": [{"score": 3}]}, "rationale: Field required"),
                       ({"scores": [1, 2]}, "ratings: Field required")]:
        with pytest.raises(ValueError, match=words):
            validate("ratings", bad)


def test_system_message_draws_one_preference_per_dimension():
    import random

    from janus_plugins.outputs.preferences import PREFERENCES, SystemMessage

    drawn = SystemMessage().sample(random.Random(3), None)
    prefs = drawn["meta"]["preference_set"]
    assert [p["dimension"] for p in prefs] == list(PREFERENCES)
    for p in prefs:
        assert p["preference"] in PREFERENCES[p["dimension"]][p["subdimension"]]
    again = SystemMessage().sample(random.Random(99), drawn["meta"])
    assert again["meta"]["preference_set"] == prefs  # evolutions keep their parent's set
