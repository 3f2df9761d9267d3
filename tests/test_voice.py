"""Turns in the wrong voice: ``janus_core.plan.voice.voice_problem`` (shared by the turn generator and
the scenario-consistency filter) and the filter's named rules, on junk seen in kept records and on
ordinary turns that must pass."""

from __future__ import annotations

import asyncio
import json

import pytest
from conftest import ROOT, read_jsonl
from janus_plugins.filters.scenario import ScenarioConsistency, ScenarioOptions
from servers import ProviderServer

from janus_core.plan.voice import introduced_names, user_things, voice_problem
from janus_core.run.journal import Journal, journal_path
from janus_core.sdk.records import Record
from janus_core.spec.model import load_spec

LIBRARY = load_spec(ROOT / "bench" / "specs" / "library_desk")  # MEMBER asks, LIBRARIAN answers
VET = load_spec(ROOT / "bench" / "specs" / "vet_reception")  # PET_OWNER asks, VET_NURSE answers


def problem(text: str, role: str, spec=LIBRARY) -> str | None:
    setup = spec.setup
    return voice_problem(text, role, setup.user_role, setup.assistant_role,
                         user_things=user_things(spec.diagram, setup.user_role, setup.assistant_role))


# --- helpers --------------------------------------------------------------------------------------

def record(*turns: str) -> Record:
    messages = [{"role": "system", "content": "You are a librarian."}]
    for i, text in enumerate(turns):
        messages.append({"role": "user" if i % 2 == 0 else "assistant", "content": text})
    return Record(messages=messages, id="r", seed_id="r", parent_id=None, direction="general", walk={},
                  model="m", prompt_sha256="0" * 64, output_type="conversation")


def scenario(**options) -> ScenarioConsistency:
    f = ScenarioConsistency()
    f.configure(LIBRARY, ScenarioOptions(**options))
    return f


async def _unasked(*args, **kwargs):
    raise AssertionError("the cheap checks never ask the model")


def verdict(f, rec, parent=None) -> str | None:
    return asyncio.run(f.check(rec, parent, _unasked))


ASKED = "Hi, I borrowed a book three weeks ago. How many times can I renew it?"
ANSWER = "You can renew it twice, online, by phone or at the desk, unless another member reserved it."


#: ordinary turns every rule must let through
GOOD_TURNS = [
    ("user", "Hi, I borrowed a book three weeks ago. How many times can I renew it?"),
    ("user", "The librarian said I could renew twice. Is that right?"),
    ("user", "How can I help my dog recover after the surgery?"),
    ("user", "Hello librarian, I'm a new member here. How do I get a card?"),
    ("user", "I'm looking for the librarian who helped me yesterday."),
    ("assistant", "I'm sorry to hear that. Your dog should not eat after 8 pm tonight; water is fine."),
    ("assistant", "Note: bring the vaccination card."),
    ("assistant", "Opening hours: 8:30 to 18:00."),
    ("assistant", "1. Call the desk. 2. Give your card number. 3. Ask for the renewal."),
    ("assistant", "Step 1: Log in.\nStep 2: Click Renew next to the book."),
    ("assistant", "See the [library catalogue](https://example.org/catalogue) to place a hold."),
    ("assistant", "As your librarian, I would renew it online today."),
    ("assistant", "I'm a member of staff here, so I can waive the first day."),
    ("assistant", "Let me look it up in my system. Your reservation is ready at Central."),
    ("assistant", "Fines:\nAdults: 20p a day\nJunior members: free"),
    ("assistant", "Two words you will hear:\n- Member: the one who borrows\n- Loan: the book you took"),
    ("assistant", "The membership pauses while you are abroad, and the sign says: closed on Sundays."),
]


@pytest.mark.parametrize("role, text", GOOD_TURNS)
def test_ordinary_turns_are_in_their_own_voice(role, text):
    assert problem(text, role) is None
    turns = (text, ANSWER) if role == "user" else (ASKED, text)
    assert verdict(scenario(), record(*turns)) is None


@pytest.mark.parametrize("role, text, reason", [
    # the user offering help or greeting as the host
    ("user", "Hi, I'm Joe, a local bike repair shop owner... How can I assist you today?",
     "wrong-voice: offers help as the host: 'How can I assist you'"),
    ("user", "Hi new tenant, I'm here to help you with your tenancy agreement",
     "wrong-voice: offers help as the host: \"I'm here to help\""),
    ("user", "I'm happy to assist you with any questions or needs. Just check out my desk",
     "wrong-voice: offers help as the host: 'happy to assist'"),
    ("user", "I'm glad you've reached out to me, I'd love to assist with your needs.",
     "wrong-voice: offers help as the host: \"glad you've reached out\""),
    ("user", "Hello. I'd love to assist with your needs for the appointment.",
     "wrong-voice: offers help as the host: 'love to assist'"),
    ("user", "I'm Emily, the librarian. How can I help you today?",
     "wrong-voice: offers help as the host: 'How can I help you'"),
    ("user", "Welcome to Millbrook Public Library! Are you here to return a book?",
     "wrong-voice: offers help as the host: 'Welcome to'"),
    ("user", "Thank you for calling the Riverside branch.", "wrong-voice: offers help as the host: 'Thank you for"),
    ("user", "Good morning! What can I do for you?", "wrong-voice: offers help as the host: 'What can I do for you'"),
    # either side introducing itself with the other's role, or calling out to its own
    ("user", "I'm Emily, the librarian on duty.",
     "wrong-voice: speaks as the other side: \"I'm Emily, the librarian\""),
    ("assistant", "Hi, I'm Sarah, a library member, and I want to renew my loan.",
     "wrong-voice: speaks as the other side: \"I'm Sarah, a library member\""),
    ("assistant", "As a member, I think the fines are too high.", "wrong-voice: speaks as the other side"),
    ("assistant", "Hello librarian, I need to renew a book.", "wrong-voice: greets its own role: 'Hello librarian,'"),
    ("user", "Hi new member, your card is ready.", "wrong-voice: greets its own role: 'Hi new member,'"),
    # the assistant speaking of what only the user has (MEMBER places RESERVATION) as its own
    ("assistant", "I'd like to collect my reservation tomorrow.",
     "wrong-voice: speaks of the user's things as its own: 'my reservation'"),
    # narration
    ("assistant", "The pharmacist looks up from her workbench. Yes, it is ready.",
     "narration: narrates in the third person: 'The pharmacist looks up'"),
    ("assistant", "The librarian smiled and said, you can renew it twice.",
     "narration: narrates in the third person: 'The librarian smiled'"),
    ("user", 'The library member asks: "Can I renew it a third time?"',
     "narration: narrates in the third person: 'The library member asks:'"),
    ("assistant", "(smirking) Ah, that's a good one... (chuckles wryly)",
     "narration: holds a stage direction: '(smirking)'"),
    ("assistant", "*smiles* Of course, let me check the shelf.", "narration: holds a stage direction: '*smiles*'"),
    # written by the embedded model
    ("assistant", "It is due Friday. (pauses to glance at a small map on the table beside him) Renew it online.",
     "narration: holds a stage direction: '(pauses to glance at a small map"),
    ("user", "I'm here to help you make the most of your membership. It's wonderful that you're taking this step.",
     "wrong-voice: offers help as the host"),
    # speaker labels
    ("assistant", "A: You can renew it twice online.", "speaker-label: opens a line with a speaker's label: 'A:"),
    ("assistant", "Lady Haggelstormy: Oh my, what a question.", "speaker-label: opens a line with a speaker's label"),
    ("assistant", "Librarian: I'm sorry, that book is on loan.",
     "speaker-label: opens a line with a speaker's label: \"Librarian: I'm sorry"),
    ("user", "Sure. Member: Can I renew it twice?", "speaker-label: opens a line with a speaker's label: 'Member:"),
    ("assistant", "It is due Friday.\n- member: can I renew?\n- librarian: twice.",
     "speaker-label: holds a script of librarian and member lines"),
])
def test_junk_from_kept_records_is_named_by_rule(role, text, reason):
    found = problem(text, role)
    assert found is not None and found.startswith(reason), found
    # the filter drops the record with the same rule, naming the message
    rule, why = reason.split(": ", 1)
    turns = (text, ANSWER) if role == "user" else (ASKED, text)
    assert verdict(scenario(), record(*turns)).startswith(f"{rule}: the {role} message {why}")


def test_the_roles_come_from_the_spec():
    # the vet nurse calls the pet (PET_OWNER owns PET) hers; the counselor greets its own role
    assert problem("My pet had the same cough last winter.", "assistant", VET).startswith("wrong-voice: speaks of")
    assert problem("My pet has a cough. Should I book a check?", "user", VET) is None
    assert problem("My own dog had that too; it passed in a week.", "assistant", VET) is None
    assert problem("I'm the pet owner, and she is eating less.", "assistant", VET).startswith("wrong-voice")
    assert problem("I'm the pet owner, and she is eating less.", "user", VET) is None
    assert problem("I'm your nurse today, what brings him in?", "user", VET).startswith("wrong-voice")
    # a word both roles share names neither side alone
    assert voice_problem("I'm the nurse on nights. Is my cat well?", "user", "SENIOR_NURSE", "VET_NURSE") is None
    assert user_things(VET.diagram, "PET_OWNER", "VET_NURSE") == ("PET",)
    assert user_things(LIBRARY.diagram, "MEMBER", "LIBRARIAN") == ("RESERVATION",)  # LOAN is the librarian's too


def test_rules_can_be_skipped_and_a_system_turn_is_not_checked():
    setup = LIBRARY.setup
    text = "(smiling)\nLibrarian: How can I help you today?"
    assert voice_problem(text, "user", setup.user_role, setup.assistant_role).startswith("wrong-voice")
    assert voice_problem(text, "user", setup.user_role, setup.assistant_role,
                         skip=["wrong-voice"]).startswith("narration")
    assert voice_problem(text, "user", setup.user_role, setup.assistant_role,
                         skip=["wrong-voice", "narration"]).startswith("speaker-label")
    assert voice_problem(text, "user", setup.user_role, setup.assistant_role,
                         skip=["wrong-voice", "narration", "speaker-label"]) is None
    assert voice_problem(text, "system", setup.user_role, setup.assistant_role) is None


def test_curly_apostrophes_are_read_as_straight_ones():
    assert problem("I’m Emily, the librarian.", "user").startswith("wrong-voice: speaks as the other side")
    assert introduced_names("Hi, I’m Emily. My name is Joe, and I'm sorry, I'm Max's owner.") == ["Emily", "Joe"]


def test_the_filter_names_the_rule_and_the_message():
    assert verdict(scenario(), record(ASKED, ANSWER)) is None
    assert verdict(scenario(), record("I'm Emily, the librarian. How can I help you today?", ANSWER)) == (
        "wrong-voice: the user message offers help as the host: 'How can I help you'")
    assert verdict(scenario(), record(ASKED, "The librarian smiled and said, twice.")) == (
        "narration: the assistant message narrates in the third person: 'The librarian smiled'")
    assert verdict(scenario(), record(ASKED, "Librarian: I'm sorry, twice only.")).startswith(
        "speaker-label: the assistant message opens a line with a speaker's label")


def test_both_sides_taking_the_same_name_is_the_wrong_voice():
    same = record("Hi, I'm Emily. Can I renew my loan?", "Hi, I'm Emily too! Yes, twice.")
    assert verdict(scenario(), same) == "wrong-voice: the assistant message takes the other side's name 'Emily'"
    assert verdict(scenario(), record("Hi, I'm Emily. Can I renew my loan?", "Hi Emily, I'm Tom. Yes, twice.")) \
        is None
    # a continuation is judged on what it adds, against the names taken before it
    parent = record("Hi, I'm Emily. Can I renew my loan?", "Hello Emily, yes: twice.")
    child = record(*[m["content"] for m in parent.messages[1:]], "Thanks. And the fine?", "I'm Emily; it is 20p.")
    child.messages[:3] = parent.messages[:3]
    assert verdict(scenario(), child, parent).startswith("wrong-voice: the assistant message takes")
    assert verdict(scenario(), parent) is None


def test_skip_turns_a_rule_off_and_unknown_rules_are_refused():
    narrated = record(ASKED, "The librarian smiled and said, twice.")
    assert verdict(scenario(skip=["narration"]), narrated) is None
    assert verdict(scenario(skip="wrong-voice"), narrated).startswith("narration:")
    assert verdict(scenario(prechecks=False), narrated) is None
    with pytest.raises(ValueError, match="unknown rule"):
        ScenarioOptions(skip=["role-precheck"])


def test_a_run_names_the_rule_in_the_ledger(cli, tmp_path):
    seeds = iter([[{"user": ASKED, "assistant": ANSWER}],
                  [{"user": "I'm Emily, the librarian. How can I help you today?", "assistant": ANSWER}],
                  [{"user": ASKED, "assistant": "(smirking) Ah, you can renew it twice... (chuckles wryly)"}]])
    out = tmp_path / "o.jsonl"
    with ProviderServer("openai", lambda body: json.dumps({"turns": next(seeds)})) as server:
        result = cli("generate", ROOT / "bench" / "specs" / "library_desk", "--backend", "openai", "--option",
                     f"base_url={server.base_url}", "--d-factor", "0", "--max-seeds", "3", "--concurrency", "1",
                     "--out", out, "-q", env={"OPENAI_API_KEY": "k-0123456789"})
    assert result.exit_code == 0, result.output
    assert [r["messages"][-1]["content"] for r in read_jsonl(out)] == [ANSWER]
    journal = Journal(journal_path(out))
    try:
        details = sorted((f["reason"], f["detail"].split(":", 1)[0]) for f in journal.failures())
    finally:
        journal.close()
    assert details == [("eliminated:scenario-consistency", "narration"),
                       ("eliminated:scenario-consistency", "wrong-voice")]


def test_a_bad_skip_in_setup_yaml_names_its_place(cli, tmp_path):
    import shutil

    spec = tmp_path / "spec"
    shutil.copytree(ROOT / "bench" / "specs" / "library_desk", spec)
    with (spec / "setup.yaml").open("a", encoding="utf-8") as f:
        f.write("filter_options:\n  scenario-consistency: {skip: [role-precheck]}\n")
    result = cli("validate", spec)
    assert result.exit_code == 1
    assert "setup.yaml:" in result.output and "unknown rule(s) role-precheck; rules: wrong-voice" in result.output
    assert "Traceback" not in result.output
