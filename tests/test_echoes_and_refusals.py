"""Junk seen in kept records that the text-quality rules ``placeholder``, ``echoed-instruction`` and
``editor-voice`` must drop, the refusal rule that must tell a decline from sympathy, and ordinary
turns that every default filter keeps."""

from __future__ import annotations

import asyncio

import pytest
from conftest import ROOT
from janus_plugins.filters import Refusal, RoleConsistency
from janus_plugins.filters.quality import TextQuality, TextQualityOptions
from janus_plugins.filters.scenario import ScenarioConsistency, ScenarioOptions

from janus_core.sdk.records import Record
from janus_core.spec.model import load_spec

LIBRARY = load_spec(ROOT / "bench" / "specs" / "library_desk")
ASKED = "Hi, I borrowed a book three weeks ago. How many times can I renew it?"
ANSWER = "You can renew it twice, online, by phone or at the desk, unless another member reserved it."


def record(user: str, assistant: str) -> Record:
    messages = [{"role": "system", "content": "You are a librarian."}, {"role": "user", "content": user},
                {"role": "assistant", "content": assistant}]
    return Record(messages=messages, id="r", seed_id="r", parent_id=None, direction="general", walk={},
                  model="m", prompt_sha256="0" * 64, output_type="conversation")


async def _unasked(*args, **kwargs):
    raise AssertionError("these rules never ask the model")


def verdict(f, rec) -> str | None:
    return asyncio.run(f.check(rec, None, _unasked))


def quality(**options) -> TextQuality:
    f = TextQuality()
    f.configure(LIBRARY, TextQualityOptions(**options))
    return f


def defaults() -> list:
    """The default filters that read one record alone."""
    scenario, roles = ScenarioConsistency(), RoleConsistency()
    scenario.configure(LIBRARY, ScenarioOptions())
    roles.configure(LIBRARY, None)
    return [Refusal(), roles, quality(), scenario]


@pytest.mark.parametrize("user, assistant", [
    (ASKED, ANSWER),
    ("My dog is unwell and has surgery tomorrow. What should I do tonight?",
     "I'm sorry to hear that. Your dog should not eat after 8 pm tonight; water is fine."),
    ("What should I bring to the appointment?", "Note: bring the vaccination card."),
    ("When is the desk open on weekdays?", "Opening hours: 8:30 to 18:00."),
    ("How do I renew by phone?", "1. Call the desk.\n2. Give your card number.\n3. Ask for the renewal."),
    ("Where can I see my loans?", "Sign in to the [library catalogue](https://example.org/account) and open "
                                  "My Loans [1]."),
    ("What should I pack for the reading group?", "- [x] your library card\n- [ ] the book, if you have it"),
    ("I lost the book. What happens now?",
     "I'm sorry for your loss of the book. It costs its replacement price plus a 5 pound processing fee."),
    ("Can you waive my fine?", "I can't waive it myself, but the branch manager can; ask at the desk."),
])
def test_ordinary_records_pass_every_default_filter(user, assistant):
    for f in defaults():
        assert verdict(f, record(user, assistant)) is None, f.name


@pytest.mark.parametrize("assistant, slot", [
    ("Your adviser is [Adviser's Name]; she will call you.", "[Adviser's Name]"),
    ("Thank you, [Name]. Your card is ready at the desk.", "[Name]"),
    ("Your book is due back on [Insert date], so renew it before then.", "[Insert date]"),
    ("This service is provided by [Your Company] with the library.", "[Your Company]"),
    ("Dear <name>, your reservation is ready to collect.", "<name>"),
    ("Please collect your book before {date} at the Central branch.", "{date}"),
    ("We will send a reminder to [email address] three days before.", "[email address]"),
])
def test_placeholder_catches_template_slots_of_any_wording(assistant, slot):
    reason = verdict(quality(), record(ASKED, assistant))
    assert reason == f"placeholder: the assistant message: it holds a placeholder {slot!r} ({assistant[:60]!r})"


@pytest.mark.parametrize("assistant", [
    "Sign in to the [library catalogue](https://example.org/account) to see your loans.",
    "Fines are capped at 6 pounds an item [1], as the rules [2] say.",
    "Your list: [x] card, [ ] book. Press <Enter> in the catalogue to search.",
    "In code it is `loans[Name]`, and the page uses <b>bold</b> for due dates.",
    "He wrote that it [sic] was free, but a reservation costs 1 pound.",
])
def test_placeholder_keeps_links_citations_checkboxes_and_code(assistant):
    assert verdict(quality(), record(ASKED, assistant)) is None


@pytest.mark.parametrize("assistant", [
    "Here's an example of how you might respond: you can renew it twice.",
    "Your next message is an interesting one: the member wants to renew.",
    "Here's a suggested alternative: ask the member for the card number first.",
    "Rewritten message: can I renew my book a third time?",
    'The member asks about renewals. A response from the librarian is: "You can renew twice."',
    "1. Rewrite the request to a more specific request.\n2. Keep it short.",
    "Answer: you can renew it twice, unless it is reserved.",
    # written by the embedded model
    "Your next message to the counselor is indeed a perfect example of how we can all make a difference.",
    "The end of the conversation.",
])
def test_echoed_instructions_are_eliminated(assistant):
    reason = verdict(quality(), record(ASKED, assistant))
    assert reason is not None and reason.startswith("echoed-instruction: the assistant message: it echoes"), reason


@pytest.mark.parametrize("assistant", [
    "Here's a more polished version: you may renew any loan twice.",
    "Here is a revised version of the answer: twice, online or at the desk.",
    "Sure. I'll provide a revised version that is shorter. You can renew it twice.",
    "I've rewritten the answer to be clearer: you can renew it two times.",
])
def test_editor_voice_is_eliminated(assistant):
    reason = verdict(quality(), record(ASKED, assistant))
    assert reason is not None and reason.startswith("editor-voice: the assistant message: it talks as an editor")


@pytest.mark.parametrize("assistant", [
    "Here's how to renew: sign in, open My Loans and press Renew next to the book.",
    "Your first question is a good one: yes, twice, unless it is reserved.",
    "The large print version of the book is at Central; I can reserve it for you.",
])
def test_ordinary_phrases_are_not_echoes_or_edits(assistant):
    assert verdict(quality(), record(ASKED, assistant)) is None


def test_the_new_rules_can_be_skipped():
    echoed = record(ASKED, "Rewritten message: can I renew my book a third time?")
    edited = record(ASKED, "Here's a more polished version: you may renew any loan twice.")
    assert verdict(quality(skip=["echoed-instruction"]), echoed) is None
    assert verdict(quality(skip=["editor-voice"]), edited) is None


@pytest.mark.parametrize("answer", [
    "I'm sorry, but I can't help with that.",
    "I cannot provide medical advice.",
    "As an AI, I am unable to give advice on this.",
    "I'm afraid I can't answer that question.",
    "I'm not able to assist with this request. Please ask at the desk.",
    "I'm sorry, I must decline.",
])
def test_refusal_eliminates_a_decline(answer):
    assert verdict(Refusal(), record("Can my dog eat before surgery?", answer)).startswith("the answer is a refusal")


@pytest.mark.parametrize("answer", [
    "I'm sorry to hear that your dog is unwell. Bring him in at 8:00 and do not feed him after 8 pm.",
    "I'm sorry for your loss. We can cancel the remaining vaccinations and close the account.",
    "Sorry about the wait! Your book is ready at the Riverside desk.",
    "I can't help but notice the due date has passed; renew it today to stop the 20p fine.",
    "I can't renew it online, but the desk can renew it for you by phone.",
])
def test_refusal_keeps_sympathy_and_help(answer):
    assert verdict(Refusal(), record("My dog is unwell. What now?", answer)) is None
