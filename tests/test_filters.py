"""Elimination filters: each rule on records it must eliminate and records it must keep."""

from __future__ import annotations

import asyncio

import pytest
from janus_filters import Leakage, NoChange, Refusal, StopwordsOnly

from janus_core.records import Record


def record(user: str, assistant: str, parent: Record | None = None, continued: bool = False) -> Record:
    messages = [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    if continued and parent is not None:
        messages = parent.messages + messages
    return Record(messages=messages, id="r", seed_id="s", parent_id=parent.id if parent else None,
                  direction="d", walk={}, model="m", prompt_sha256="0" * 64, output_type="instruct",
                  depth=parent.depth + 1 if parent else 0)


PARENT = record("How can my wife and I stop arguing about money every weekend?",
                "Set a calm weekly budget talk with clear rules.")


class Judge:
    """Stands in for the engine's ``ask``: answers with a fixed verdict and counts the questions."""

    def __init__(self, equal: bool):
        self.equal, self.asked = equal, []

    async def __call__(self, messages, schema):
        self.asked.append(messages[-1]["content"])
        return {"equal": self.equal}


def check(f, rec, parent=None, judge=None):
    return asyncio.run(f.check(rec, parent, judge or Judge(False)))


def test_no_change_eliminates_a_copy_without_asking():
    judge = Judge(False)
    same = record("How can my wife and I stop arguing about money every weekend?", "Talk weekly.", PARENT)
    assert "100% the same" in check(NoChange(), same, PARENT, judge)
    assert judge.asked == []


def test_no_change_keeps_a_clearly_different_request_without_asking():
    judge = Judge(True)
    new = record("Give us a three-step plan, under 100 words, to split chores fairly when both work nights.",
                 "Plan ...", PARENT)
    assert check(NoChange(), new, PARENT, judge) is None
    assert judge.asked == []


@pytest.mark.parametrize("equal, eliminated", [(True, True), (False, False)])
def test_no_change_asks_the_model_in_the_grey_zone(equal, eliminated):
    judge = Judge(equal)
    near = record("How can my wife and I stop arguing about money and chores every weekend at home?", "Try.",
                  PARENT)
    verdict = check(NoChange(), near, PARENT, judge)
    assert len(judge.asked) == 1 and "First request:" in judge.asked[0]
    assert (verdict is not None) == eliminated


def test_no_change_compares_the_new_turn_of_a_continued_conversation():
    continued = record("What if she refuses to talk about the budget at all?", "Then start smaller.", PARENT,
                       continued=True)
    assert check(NoChange(), continued, PARENT, Judge(True)) is None


@pytest.mark.parametrize("answer", ["I'm sorry, but I cannot help with that.",
                                    "As an AI, I am unable to give advice on this.",
                                    "Apologies, I can't do that."])
def test_refusal_eliminates_short_apologies(answer):
    assert "refusal" in check(Refusal(), record("Help us plan a date night.", answer))


@pytest.mark.parametrize("answer", [
    "Plan a simple dinner at home: cook together, phones away, and talk about one good memory.",
    "Sorry to hear it has been hard. " + "Here is a plan that works for many couples. " * 12,
])
def test_refusal_keeps_real_answers(answer):
    assert check(Refusal(), record("Help us plan a date night.", answer)) is None


@pytest.mark.parametrize("user", ["?!...", "Yes, and so on.", "   ", "ok ok -- well"])
def test_stopwords_only_eliminates(user):
    assert "stop words" in check(StopwordsOnly(), record(user, "A full answer with content words."))


def test_stopwords_only_keeps_real_text():
    assert check(StopwordsOnly(), record("Why do we fight?", "Stress and fatigue often play a part.")) is None


@pytest.mark.parametrize("text, what", [
    ("Here is the #Rewritten Prompt#: plan a date.", "evolution wording"),
    ("As in the given prompt, we argue.", "evolution wording"),
    ("erDiagram COUNSELOR", "erDiagram"),
    ("COUNSELOR ||--|{ COUNSELEE", "cardinality"),
    ("See %% Frequency: Weekly", "%%"),
])
def test_leakage_eliminates(text, what):
    assert what in check(Leakage(), record(text, "An answer."))


def test_leakage_keeps_ordinary_text():
    assert check(Leakage(), record("We meet weekly -- is that too often?", "Weekly is fine | keep it short.")) is None


def test_filters_only_read_what_a_continuation_adds():
    leaky_parent = record("Our %% budget", "fine")
    child = record("How do we start saving?", "Open a joint account.", leaky_parent, continued=True)
    assert check(Leakage(), child, leaky_parent) is None


def _roles():
    from janus_filters import RoleConsistency

    f = RoleConsistency()
    f.configure(type("Spec", (), {"setup": type("Setup", (), {"user_role": "COUNSELEE",
                                                             "assistant_role": "COUNSELOR"})()})())
    return f


@pytest.mark.parametrize("user, assistant, eliminated", [
    ("How do we talk?", "COUNSELEE: I feel lost too.", True),
    ("How do we talk?", "As a counselee, I would say...", True),
    ("COUNSELOR: let me advise you.", "Thanks.", True),
    ("How do we talk?", "Start with ten quiet minutes a day.", False),
    ("How does a counselee usually feel?", "Many counselees feel unsure at first.", False),
])
def test_role_consistency(user, assistant, eliminated):
    assert (check(_roles(), record(user, assistant)) is not None) == eliminated


def test_length():
    from janus_filters import Length

    assert "0 words" in check(Length(), record("How?", " "))
    assert "over 4000" in check(Length(), record("Tell me everything.", "word " * 4100))
    assert check(Length(), record("How do we start?", "With one small step.")) is None
