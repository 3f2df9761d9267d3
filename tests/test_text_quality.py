"""The text-quality filter (each rule on junk it must drop and text it must keep), readable(), and
the scenario-consistency filter, alone and inside real runs against stand-in servers."""

from __future__ import annotations

import asyncio
import json
import shutil

import pytest
from conftest import SAMPLES, read_jsonl
from janus_plugins.filters.quality import (
    TextQuality,
    TextQualityOptions,
    duplicate_ngram_share,
    readable,
    top_ngram_share,
)
from janus_plugins.filters.scenario import ScenarioConsistency, ScenarioOptions
from servers import ProviderServer

from janus_core.run.journal import Journal, journal_path
from janus_core.sdk.records import Record
from janus_core.spec.model import load_spec

KEY = {"OPENAI_API_KEY": "k-0123456789"}
COUNSEL = load_spec(SAMPLES / "marriage_counsel")
CLINIC = load_spec(SAMPLES / "clinic")
RUNAWAY = "AuvaMg" + "Au" * 117  # 240 characters of one syllable
DIRECTION = "The user pushes for specifics and the assistant reasons it through."

GOOD = [
    ("My husband and I argue about money almost every weekend. How can we talk about it without fighting?",
     "Pick one calm evening a week for a short budget talk. Each of you names one worry, and you agree on "
     "a single rule before you look at any numbers."),
    ("That sounds hard for us. He gets defensive as soon as I mention his spending.",
     "Start with what you both want, such as a holiday or less stress, rather than with his receipts. It "
     "is easier to agree on a goal than to defend a purchase."),
]


def record(*turns: str, system: str | None = "You are a warm, professional COUNSELOR.", walk=None,
           direction: str = "general") -> Record:
    messages = [{"role": "system", "content": system}] if system else []
    for i, text in enumerate(turns):
        messages.append({"role": "user" if i % 2 == 0 else "assistant", "content": text})
    return Record(messages=messages, id="r", seed_id="r", parent_id=None, direction=direction, walk=walk or {},
                  model="m", prompt_sha256="0" * 64, output_type="conversation")


def quality(options: dict | None = None, spec=COUNSEL) -> TextQuality:
    f = TextQuality()
    f.configure(spec, TextQualityOptions(**(options or {})))
    return f


async def _unasked(*args, **kwargs):
    raise AssertionError("the text-quality filter never asks the model")


def verdict(f, rec, parent=None) -> str | None:
    return asyncio.run(f.check(rec, parent, _unasked))


# --- junk from issue 13 --------------------------------------------------------------------------

@pytest.mark.parametrize("user, assistant, rule, is_readable", [
    ("user1234567", "Let us look at how you both decide on spending each month.", "placeholder", False),
    ("How do we split the chores fairly between us?", RUNAWAY, "runaway-token", False),
    ("Emma", "Sally", "placeholder", False),
    ("We keep fighting about the chores at home.", "Sally", "placeholder", False),
    ("COUNSELEE", "How can I help you both today with this?", "placeholder", False),
    ("Hello, my name is [Your Name] and I need help.", "Welcome, tell me what brings you here.", "placeholder",
     True),
    (DIRECTION, "Tell me more about what happens when you argue.", "copies-prompt", True),
    ("We fight about money.", "Write something typical of this situation: the kind of exchange that happens "
                              "most often.", "copies-prompt", True),
])
def test_issue_junk_is_eliminated_with_the_rule_named(user, assistant, rule, is_readable):
    reason = verdict(quality(), record(user, assistant))
    assert reason is not None and reason.startswith(f"{rule}:"), reason
    # readable() is the looser check: words, English, no runaway token
    assert readable(record(user, assistant))[0] is is_readable


def test_good_conversations_pass_every_rule():
    f = quality()
    assert verdict(f, record(*GOOD[0])) is None
    assert verdict(f, record(*GOOD[0], *GOOD[1])) is None
    code = ("How do I read a file line by line in Python without loading it all?",
            "Open it and loop over the handle:\n```python\nwith open(path, encoding='utf-8') as handle:\n"
            "    for line in handle:\n        process_every_single_line_of_the_input_file(line)\n```\n"
            "See https://docs.python.org/3/tutorial/inputoutput.html#reading-and-writing-files-in-detail for more.")
    assert verdict(quality(spec=load_spec(SAMPLES / "coding_assist")), record(*code, system=None)) is None
    clinic = ("Hi, I need to move my appointment with Dr. Patel from Tuesday to Thursday morning.",
              "Of course. Thursday at 9:30 is free with Dr. Patel; shall I book it and cancel Tuesday?")
    assert verdict(quality(spec=CLINIC), record(*clinic)) is None
    for rec in (record(*GOOD[0]), record(*clinic), record(*code)):
        assert readable(rec) == (True, [])


# --- each rule, both ways --------------------------------------------------------------------------

def test_min_and_max_words():
    assert verdict(quality(), record("Okay.", GOOD[0][1])).startswith("min-words: the user message: 1 words")
    assert verdict(quality(), record("Yes, that helps.", GOOD[0][1])) is None
    long_answer = GOOD[0][1] + " " + GOOD[1][1]
    assert verdict(quality({"max_words": 20}), record(GOOD[0][0], long_answer)).startswith("max-words:")
    assert verdict(quality({"max_words": 80}), record(GOOD[0][0], long_answer)) is None


def test_english_words():
    versions = "JSON 2.0.1, 1.0.2, 2023-12-20, 2023-12-20"
    reason = verdict(quality(), record("Which versions of the parser do we support?", versions))
    assert reason.startswith("english-words: the assistant message: 0 common English words, under 1"), reason
    assert verdict(quality({"min_common_words": 0}), record("Which versions of the parser do we support?",
                                                            versions)) is None
    assert verdict(quality(), record("Thursday at 9:30?", "Booked: Thursday at 9:30.")) is None
    french = load_spec(SAMPLES / "marriage_counsel")
    french.setup.filter_options = {"language": {"expected": ["fr"]}}
    assert verdict(quality(spec=french), record("Comment pouvons-nous parler de notre budget ?", versions)) is None
    code_only = "```python\nprint(sorted(items, key=len))\n```"
    assert verdict(quality(), record("Sort a list of strings by length in Python.", code_only)) is None


def test_mean_word_length_gopher_bounds():
    tiny = "a b c d e f g h i j k"
    assert "mean word length 1.00" in verdict(quality(), record(GOOD[0][0], tiny))
    huge = ("Notwithstanding the counterproductive institutionalised misrepresentations, "
            "interdepartmental reconciliations notwithstanding, uncharacteristically "
            "incomprehensible administrative documentation")
    assert verdict(quality(), record(GOOD[0][0], huge)).startswith("mean-word-length:")
    # short messages are not measured: too few words to say anything
    assert verdict(quality(), record(GOOD[0][0], "I do, I am, we go.")) is None
    assert verdict(quality({"min_mean_word_length": 0.5}), record(GOOD[0][0], tiny)) is None


def test_alphabetic_word_share():
    numbers = "12345 23456 34567 45678 56789 67890 78901 about the money"
    reason = verdict(quality(), record(GOOD[0][0], numbers))
    assert reason.startswith("alpha-words:") and "30% of words have a letter" in reason
    prices = "The rent is 1200, food about 400 and the car 250 each month."
    assert verdict(quality(), record(GOOD[0][0], prices)) is None
    assert verdict(quality({"min_alpha_words": 0.8}), record(GOOD[0][0], prices)).startswith("alpha-words:")


def test_repeated_lines():
    looped = "Take a breath.\nTake a breath.\nTake a breath.\nThen talk to each other."
    assert verdict(quality(), record(GOOD[0][0], looped)).startswith("repeated-lines: the assistant message: 50%")
    listed = "Try this:\n- Take a breath.\n- Name the feeling.\n- Ask one question.\n- Listen to the answer."
    assert verdict(quality(), record(GOOD[0][0], listed)) is None


def test_top_ngram_and_duplicate_ngram_measures():
    words = "a b a b a b c d".split()
    assert top_ngram_share(words, 2) == pytest.approx(6 / 8)
    assert top_ngram_share("a b c d".split(), 2) == 0  # an n-gram seen once counts nothing
    assert duplicate_ngram_share("x y z x y z".split(), 3) == pytest.approx(0.5)
    assert duplicate_ngram_share("x y z w v u".split(), 3) == 0


def test_top_ngram_rule():
    loop = ("you know what I mean " * 5 + "and then we just sit there in silence until one of us goes to bed").strip()
    assert verdict(quality(), record(GOOD[0][0], loop)).startswith("top-ngram: the assistant message")
    assert verdict(quality({"max_top_ngram": {2: 0.9, 3: 0.9, 4: 0.9}, "max_duplicate_ngram": {5: 0.9}}),
                   record(GOOD[0][0], loop)) is None


def test_duplicate_ngram_rule():
    paragraph = ("When money comes up your shoulders tense and he starts to list old mistakes so agree first on "
                 "a signal that either of you may use to pause the talk for ten minutes")
    doubled = f"{paragraph} {paragraph}"
    reason = verdict(quality(), record(GOOD[0][0], doubled))
    assert reason.startswith("duplicate-ngram: the assistant message: duplicated 5-grams cover 45%"), reason
    assert verdict(quality(), record(GOOD[0][0], paragraph)) is None


def test_runaway_token_leaves_urls_and_identifiers_alone():
    assert verdict(quality(), record(GOOD[0][0], "Ha" + "ha" * 20 + " that is funny to hear.")).startswith(
        "runaway-token: the assistant message: a word of 42 characters, over 25")
    ok = "See https://example.org/a/very/long/path/to/some/counselling-resource and call our_main_office_number_here."
    assert verdict(quality(), record(GOOD[0][0], ok)) is None
    assert verdict(quality({"max_word_chars": 50}), record(GOOD[0][0], RUNAWAY[:45] + " is what he said.")) is None


def test_placeholder_keeps_names_inside_sentences():
    assert verdict(quality(), record("Emma and I have been married for six years.", GOOD[0][1])) is None
    assert verdict(quality(), record("Thanks!", GOOD[0][1])).startswith("min-words:")  # a word, not a name


def test_copies_prompt_compares_with_the_spec_and_its_directions():
    spec_dir = load_spec(SAMPLES / "marriage_counsel_instruct")  # a free-text derivational direction
    f = quality(spec=spec_dir)
    copied = "Style: answer with one concrete exercise the couple can do this week"
    assert verdict(f, record(GOOD[0][0], copied)).startswith("copies-prompt:")
    assert verdict(f, record(GOOD[0][0], "Here is one exercise for this week: a ten minute walk after dinner, "
                                         "phones at home.")) is None
    assert verdict(quality({"max_prompt_overlap": 1.0}), record(DIRECTION, GOOD[0][1])) is not None
    assert verdict(quality({"skip": ["copies-prompt"]}), record(DIRECTION, GOOD[0][1])) is None


def test_repeated_turn():
    same = record(GOOD[0][0], GOOD[0][1], GOOD[1][0], GOOD[0][1])
    assert verdict(quality(), same) == ("repeated-turn: the assistant message repeats an earlier assistant "
                                        "message exactly")
    echo = record(GOOD[0][0], GOOD[0][0].upper())
    assert verdict(quality(), echo).startswith("repeated-turn: the assistant message repeats an earlier user")
    near = record(GOOD[0][0], GOOD[0][1], GOOD[1][0], GOOD[0][1].replace("calm", "quiet"))
    assert "% like an earlier assistant message" in verdict(quality(), near)
    assert verdict(quality(), record(*GOOD[0], *GOOD[1])) is None


def test_an_evolution_is_judged_on_what_it_adds():
    parent = record(*GOOD[0])
    child = record(*GOOD[0], "Okay.", GOOD[1][1])
    child.parent_id = parent.id
    assert verdict(quality(), child, parent).startswith("min-words:")
    assert verdict(quality(), record(*GOOD[0], *GOOD[1]), parent) is None


def test_options_are_checked():
    with pytest.raises(ValueError, match="unknown rule"):
        TextQualityOptions(skip=["nonsense"])
    with pytest.raises(ValueError, match="below max_mean_word_length"):
        TextQualityOptions(min_mean_word_length=12)


def test_readable_reports_each_problem():
    ok, problems = readable(record("user1234567", RUNAWAY))
    assert not ok
    assert "turn 1 (user) has 1 word(s)" in problems
    assert "turn 1 (user) has no ordinary English word" in problems
    assert any("runaway token 'AuvaMgAuAu" in p for p in problems)
    assert readable({"messages": [{"role": "user", "content": "Emma"}]})[0] is False
    assert readable({"messages": [{"role": "system", "content": "x"}, {"role": "user", "content": GOOD[0][0]}]}) \
        == (True, [])


# --- inside a run ----------------------------------------------------------------------------------

def junk_provider(turns_by_request: list[list[dict[str, str]]]):
    it = iter(turns_by_request)
    return lambda body: json.dumps({"turns": next(it)})


def run(cli, spec, out, server, *extra):
    return cli("generate", spec, "--backend", "openai", "--option", f"base_url={server.base_url}", "--d-factor",
               "0", "--concurrency", "1", "--out", out, "-q", *extra, env=KEY)


def ledger(out) -> dict[str, tuple[str, str]]:
    journal = Journal(journal_path(out))
    try:
        return {f["job_key"]: (f["reason"], f["detail"]) for f in journal.failures()}
    finally:
        journal.close()


def test_a_run_eliminates_junk_and_names_the_rule_in_the_ledger(cli, tmp_path):
    replies = [[{"user": "user1234567", "assistant": RUNAWAY}],
               [{"user": "Emma", "assistant": "Sally"}],
               [{"user": GOOD[0][0], "assistant": GOOD[0][1]}]]
    out = tmp_path / "o.jsonl"
    with ProviderServer("openai", junk_provider(replies)) as server:
        result = run(cli, SAMPLES / "marriage_counsel", out, server, "--max-seeds", "3")
    assert result.exit_code == 0, result.output
    records = read_jsonl(out)
    assert [r["messages"][1]["content"] for r in records] == [GOOD[0][0]]
    failures = ledger(out)
    assert sorted(reason for reason, _ in failures.values()) == ["eliminated:text-quality"] * 2
    details = sorted(detail for _, detail in failures.values())
    assert details[0].startswith("placeholder: the user message: the whole turn is a lone name ('Emma')")
    assert details[1].startswith("placeholder: the user message: the whole turn is a placeholder ('user1234567')")
    assert "eliminated:text-quality 2" in result.output


def test_setup_yaml_filter_options_change_the_thresholds(cli, tmp_path):
    spec = tmp_path / "spec"
    shutil.copytree(SAMPLES / "marriage_counsel", spec)
    with (spec / "setup.yaml").open("a", encoding="utf-8") as f:
        f.write("filter_options:\n  text-quality:\n    {skip: [runaway-token], min_words: 1, max_word_chars: 30, "
                "min_common_words: 0}\n")
    replies = [[{"user": "We argue about money.", "assistant": RUNAWAY}],
               [{"user": "Help?", "assistant": "Ha" + "ha" * 20 + " yes, that happens to many couples."}]]
    out = tmp_path / "o.jsonl"
    with ProviderServer("openai", junk_provider(replies)) as server:
        result = run(cli, spec, out, server, "--max-seeds", "2")
    assert result.exit_code == 0, result.output
    # one word is enough now, and a skipped rule does not fire whatever its threshold
    assert len(read_jsonl(out)) == 2 and ledger(out) == {}


def test_a_bad_text_quality_option_names_its_place(cli, tmp_path):
    spec = tmp_path / "spec"
    shutil.copytree(SAMPLES / "marriage_counsel", spec)
    with (spec / "setup.yaml").open("a", encoding="utf-8") as f:
        f.write("filter_options:\n  text-quality: {skip: [no-such-rule]}\n")
    result = cli("validate", spec)
    assert result.exit_code == 1
    assert "setup.yaml:" in result.output and "unknown rule(s) no-such-rule" in result.output
    assert "Traceback" not in result.output


# --- scenario consistency --------------------------------------------------------------------------

def scenario(options: dict | None = None, spec=COUNSEL) -> ScenarioConsistency:
    f = ScenarioConsistency()
    f.configure(spec, ScenarioOptions(**(options or {})))
    return f


@pytest.mark.parametrize("user, assistant, found", [
    (GOOD[0][0], "As the counselee, I feel the same way about money.",
     "wrong-voice: the assistant message speaks as the other side: 'As the counselee, I'"),
    ("I am your counselor, so let me explain how this works.", GOOD[0][1],
     "wrong-voice: the user message speaks as the other side: 'I am your counselor'"),
    ("As an AI assistant, I would suggest we talk about money.", GOOD[0][1],
     "wrong-voice: the user message speaks as the other side"),
    (GOOD[0][0], "Let us try.\nCOUNSELEE: But he never listens.\nCOUNSELOR: Then we start there.",
     "speaker-label: the assistant message opens a line with a speaker's label: 'COUNSELEE: But"),
])
def test_scenario_prechecks_catch_a_turn_out_of_its_role(user, assistant, found):
    reason = verdict(scenario(), record(user, assistant))
    assert reason is not None and reason.startswith(found), reason


def test_scenario_prechecks_keep_a_conversation_in_its_roles():
    assert verdict(scenario(), record(*GOOD[0], *GOOD[1])) is None
    # the roles by name inside ordinary sentences are fine
    assert verdict(scenario(), record("Our last counselor gave us homework we never did.",
                                      "As your counselor, I would start with something smaller.")) is None
    assert verdict(scenario({"prechecks": False}), record(GOOD[0][0], "As the counselee, I agree.")) is None
    # one labelled line is a list item, not a script
    terms = "Two words you will hear from me:\n- Counselee: the one who asks\n- Session: our weekly hour"
    assert verdict(scenario(), record("What do those words on the form mean?", terms)) is None


def judge_provider(seeds: list[list[dict[str, str]]], off_role: str):
    """Seeds in order; the consistency question is answered by whether the off-role text is shown."""
    it = iter(seeds)

    def reply(body):
        prompt = body["messages"][-1]["content"]
        if prompt.startswith("You check training conversations"):
            bad = off_role in prompt
            return json.dumps({"in_role": not bad, "consistent": True,
                               "problem": "the user gives the counselling advice" if bad else ""})
        return json.dumps({"turns": next(it)})
    return reply


OFF_ROLE = "Let me guide you: list three things you value in your marriage and bring the list next week."


def test_model_checked_scenario_drops_an_off_role_record_and_keeps_a_good_one(cli, tmp_path):
    spec = tmp_path / "spec"
    shutil.copytree(SAMPLES / "clinic", spec)
    with (spec / "setup.yaml").open("a", encoding="utf-8") as f:
        f.write("filter_options:\n  scenario-consistency: {model_check: true}\n")
    clinic = [{"user": "Hi, I need to move my appointment from Tuesday to Thursday morning, please.",
               "assistant": "Of course. Thursday at nine thirty is free; shall I book it and cancel Tuesday?"}]
    off = [{"user": OFF_ROLE, "assistant": "Thank you, I will think about what matters to me before then."}]
    out = tmp_path / "o.jsonl"
    with ProviderServer("openai", judge_provider([clinic, off], OFF_ROLE)) as server:
        result = run(cli, spec, out, server, "--max-seeds", "2")
        asked = [b["messages"][-1]["content"] for b in server.requests
                 if b["messages"][-1]["content"].startswith("You check training conversations")]
    assert result.exit_code == 0, result.output
    assert [r["messages"][1]["content"] for r in read_jsonl(out)] == [clinic[0]["user"]]
    reasons = list(ledger(out).values())
    assert reasons == [("eliminated:scenario-consistency",
                        "model check: out of role: the user gives the counselling advice")]
    assert len(asked) == 2
    # the facts come from the diagram by the walk's names: attributes and %% details
    for prompt in asked:  # both seeds walk RECEPTIONIST books APPOINTMENT
        assert "- RECEPTIONIST has shift (string): morning or evening" in prompt
        assert "status (string): booked, moved or cancelled" in prompt
        assert "Details: Channel: phone or walk-in; Busiest: Monday mornings" in prompt
        assert "[PATIENT] Hi, I need to move" in prompt or OFF_ROLE in prompt


def test_the_model_check_is_off_by_default(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    seeds = [[{"user": OFF_ROLE, "assistant": "Thank you, I will think about what matters to me before then."}]]
    with ProviderServer("openai", judge_provider(seeds, OFF_ROLE)) as server:
        result = run(cli, SAMPLES / "marriage_counsel", out, server, "--max-seeds", "1")
        assert len(server.requests) == 1  # the seed only: nothing was judged
    assert result.exit_code == 0, result.output
    assert len(read_jsonl(out)) == 1


def test_the_judge_and_the_scenario_check_describe_the_same_walk():
    from janus_plugins.filters.judge import Judge
    from janus_plugins.filters.scenario import situation

    judge = Judge()
    judge.configure(CLINIC, None)
    check = scenario(spec=CLINIC)
    walk = {"entities": ["PATIENT", "APPOINTMENT"], "relationships": ["PATIENT->APPOINTMENT#1", "NOPE->X#9"]}
    text = situation(CLINIC, check.graph, walk)
    assert judge.situation(record(walk=walk)) == text
    assert "insurance (string): public or private" in text and "Relationships:" in text
    assert text == situation(CLINIC, judge.graph, walk)
