"""Quality filters inside a real run: the judge's requests go through the engine to a provider
server, grades land in the records, and options come from setup.yaml or the command line."""

from __future__ import annotations

import json
import shutil

from conftest import SAMPLES, read_jsonl
from servers import ProviderServer

KEY = {"OPENAI_API_KEY": "k-0123456789"}
ANSWER = "Set aside twenty quiet minutes every Sunday to plan the week's spending together."


def _provider(requests: list[str], scores: dict[str, int]):
    """Seeds are numbered requests; a judge prompt is graded by which request it holds."""
    it = iter(requests)

    def reply(body):
        prompt = body["messages"][-1]["content"]
        if prompt.startswith("You are a strict, fair grader"):
            score = next(s for text, s in scores.items() if text in prompt)
            return json.dumps({"feedback": f"graded {score}", "score": score})
        return json.dumps({"instruction": next(it), "response": ANSWER})
    return reply


def test_min_score_drops_low_graded_records_and_keeps_grades(cli, tmp_path):
    good = "How can my husband and I plan our weekly budget without arguing every single time?"
    poor = "What should we do when his mother criticises how we raise our two children at dinner?"
    out = tmp_path / "o.jsonl"
    with ProviderServer("openai", _provider([good, poor], {good: 5, poor: 2})) as server:
        result = cli("generate", SAMPLES / "marriage_counsel_instruct", "--backend", "openai", "--option",
                     f"base_url={server.base_url}", "--d-factor", "0", "--max-seeds", "2", "--concurrency", "1",
                     "--min-score", "3.5", "--out", out, "-q", env=KEY)
        judged = [b for b in server.requests if b["messages"][-1]["content"].startswith("You are a strict")]
    assert result.exit_code == 0, result.output
    assert len(judged) == 8  # 4 default rubrics x 2 records
    records = read_jsonl(out)
    assert [r["messages"][0]["content"] for r in records] == [good]
    grades = records[0]["meta"]["judge"]
    assert grades["score"] == 5 and set(grades["rubrics"]) == {"faithfulness", "role_fidelity", "helpfulness",
                                                               "safety"}
    assert records[0]["usage"]["tokens_in"] == 11 * 5  # the seed request and four judge requests
    assert "eliminated:judge 1" in result.output


def test_filter_options_in_setup_yaml_switch_filters_on(cli, tmp_path):
    spec = tmp_path / "spec"
    shutil.copytree(SAMPLES / "marriage_counsel_instruct", spec)
    with (spec / "setup.yaml").open("a", encoding="utf-8") as f:
        f.write("filter_options:\n  language: {expected: en}\n  length: {min_words: 3}\n")
    french = "Comment pouvons-nous parler de notre budget sans nous disputer chaque semaine ?"
    english = "How can we talk about our budget each week without the talk turning into a fight?"
    out = tmp_path / "o.jsonl"
    with ProviderServer("openai", _provider([french, english], {})) as server:
        result = cli("generate", spec, "--backend", "openai", "--option", f"base_url={server.base_url}",
                     "--d-factor", "0", "--max-seeds", "2", "--concurrency", "1", "--out", out, "-q", env=KEY)
    assert result.exit_code == 0, result.output
    assert [r["messages"][0]["content"] for r in read_jsonl(out)] == [english]
    assert "eliminated:language 1" in result.output


def test_bad_filter_options_are_located_in_setup_yaml(cli, tmp_path):
    spec = tmp_path / "spec"
    shutil.copytree(SAMPLES / "marriage_counsel_instruct", spec)
    text = (spec / "setup.yaml").read_text(encoding="utf-8")
    lines = len(text.splitlines())
    (spec / "setup.yaml").write_text(text + "filter_options:\n  judge:\n    min_scor: 3\n  lenght: {}\n",
                                     encoding="utf-8")
    result = cli("validate", spec)
    assert result.exit_code != 0
    assert f"setup.yaml:{lines + 3}:5: filter_options.judge.min_scor: Extra inputs are not permitted" in result.output


def test_a_judge_error_keeps_the_paid_reply_for_the_rerun(cli, tmp_path):
    from servers import Fault

    from janus_core.run.journal import Journal, journal_path

    request = "How can my husband and I plan our weekly budget without arguing every single time?"
    out = tmp_path / "o.jsonl"
    args = ["generate", SAMPLES / "marriage_counsel_instruct", "--backend", "openai", "--d-factor", "0",
            "--max-seeds", "1", "--concurrency", "1", "--min-score", "3", "--retries", "0", "--out", out, "-q"]
    with ProviderServer("openai", _provider([request] * 2, {request: 4})) as server:
        server.faults = [Fault(200), Fault(400)]  # the seed is answered, its first judge request refused
        first = cli(*args, "--option", f"base_url={server.base_url}", env=KEY)
        journal = Journal(journal_path(out))
        cached = journal.db.execute("SELECT count(*) FROM requests").fetchone()[0]
        journal.close()
        assert cached == 1, first.output  # the generation reply, paid for, is kept
        again = cli(*args, "--retry-failed", "--option", f"base_url={server.base_url}", env=KEY)
        seeds = [b for b in server.requests if not b["messages"][-1]["content"].startswith("You are a strict")]
    assert again.exit_code == 0, again.output
    assert len(seeds) == 1  # the rerun did not pay for the seed again
    assert len(read_jsonl(out)) == 1


PLUGIN = '''
from janus_core import RememberingFilter, hookimpl


class RejectOnce(RememberingFilter):
    """Eliminates the first record it sees in its recheck; its configure takes the spec only."""

    name, description, evolution_only, default = "reject-once", "test", False, True

    def configure(self, spec):
        self.seen = False

    async def check(self, record, parent, ask):
        return None

    def recheck(self, record, parent):
        if not self.seen:
            self.seen = True
            return "the first one goes"
        return None


@hookimpl
def register_filters(register):
    register(RejectOnce())
'''


def test_a_record_another_filter_drops_is_not_remembered_as_a_duplicate(cli, tmp_path):
    plugin = tmp_path / "reject_once.py"
    plugin.write_text(PLUGIN, encoding="utf-8")
    text = "How can my husband and I plan our weekly budget without arguing every single time?"
    out = tmp_path / "o.jsonl"
    with ProviderServer("openai", _provider([text, text], {})) as server:
        result = cli("--plugin", plugin, "generate", SAMPLES / "marriage_counsel_instruct", "--backend", "openai",
                     "--option", f"base_url={server.base_url}", "--d-factor", "0", "--max-seeds", "2",
                     "--concurrency", "1", "--out", out, "-q", env=KEY)
    assert result.exit_code == 0, result.output
    # the first copy was dropped by reject-once, so the second is no duplicate of anything kept
    assert [r["messages"][0]["content"] for r in read_jsonl(out)] == [text]
    assert "eliminated:reject-once 1" in result.output and "duplicate" not in result.output


def test_filters_forget_a_run_s_options(tmp_path):
    from janus_plugins.filters import Duplicate, Length
    from janus_plugins.filters.options import DuplicateOptions, LengthOptions

    length, duplicate = Length(), Duplicate()
    length.configure(None, LengthOptions(max_words=5))
    duplicate.configure(None, DuplicateOptions(threshold=0.3, ngram=1))
    length.configure(None, None)
    duplicate.configure(None, None)
    assert (length.options.max_words, duplicate.options.threshold, duplicate.options.ngram) == (4000, 0.8, 5)


def test_no_filters_with_a_filter_option_is_refused(cli):
    result = cli("generate", SAMPLES / "marriage_counsel_instruct", "--no-filters", "--min-score", "3", "--dry-run")
    assert result.exit_code == 2 and "--no-filters runs no filter, so --min-score would do nothing" in result.output


def test_a_journal_from_before_filter_options_continues(cli, tmp_path):
    from janus_core.run.journal import Journal, journal_path
    from janus_core.run.session import RunSettings, earlier_fingerprint, fingerprint
    from janus_core.spec.model import load_spec

    spec = load_spec(SAMPLES / "marriage_counsel_instruct")
    settings = RunSettings()
    old = earlier_fingerprint(spec, "openai", "gpt-4o-mini", settings)
    assert old is not None and old != fingerprint(spec, "openai", "gpt-4o-mini", settings)
    out = tmp_path / "o.jsonl"
    journal = Journal(journal_path(out))
    journal.set_meta("fingerprint", old)
    journal.close()
    out.write_text("", encoding="utf-8")
    text = "How can my husband and I plan our weekly budget without arguing every single time?"
    with ProviderServer("openai", _provider([text], {})) as server:
        result = cli("generate", SAMPLES / "marriage_counsel_instruct", "--backend", "openai", "--option",
                     f"base_url={server.base_url}", "--d-factor", "0", "--max-seeds", "1", "--out", out, "-q",
                     env=KEY)
    assert result.exit_code == 0, result.output
    journal = Journal(journal_path(out))
    assert journal.get_meta("fingerprint") == fingerprint(spec, "openai", "gpt-4o-mini", settings)
    journal.close()


def test_a_missing_rubrics_or_benchmark_file_is_located_by_validate(cli, tmp_path):
    spec = tmp_path / "spec"
    shutil.copytree(SAMPLES / "marriage_counsel_instruct", spec)
    text = (spec / "setup.yaml").read_text(encoding="utf-8")
    lines = len(text.splitlines())
    (spec / "setup.yaml").write_text(text + "filter_options:\n  judge: {rubrics: mine.yaml}\n"
                                     "  decontamination:\n    benchmark: [gsm8k.jsonl]\n", encoding="utf-8")
    result = cli("validate", spec)
    assert result.exit_code == 1
    assert f"setup.yaml:{lines + 2}:20: judge.rubrics: file mine.yaml not found" in result.output
    assert f"setup.yaml:{lines + 4}:17: decontamination.benchmark.0: file gsm8k.jsonl not found" in result.output


def test_an_eliminated_records_reply_and_failure_are_committed_together(cli, tmp_path):
    """An elimination goes to the journal in the engine's group commit: its failure in the ledger and
    the paid reply in the request cache, so a rerun that retries it pays for nothing."""
    from janus_core.run.journal import Journal, journal_path

    out = tmp_path / "o.jsonl"
    args = ["generate", SAMPLES / "marriage_counsel_instruct", "--backend", "openai", "--d-factor", "0",
            "--max-seeds", "3", "--concurrency", "3", "--out", out, "-q"]
    stopwords = "and the of to it is"  # eliminated by the stopwords-only filter
    asked = iter(["How do we plan our weekly budget together without a fight?", stopwords, stopwords])

    def reply(body):
        return json.dumps({"instruction": next(asked), "response": ANSWER})

    with ProviderServer("openai", reply) as server:
        first = cli(*args, "--option", f"base_url={server.base_url}", env=KEY)
        paid = len(server.requests)
        with Journal(journal_path(out)) as journal:
            failures = journal.failure_counts()
            cached = journal.db.execute("SELECT count(*) FROM requests").fetchone()[0]
        again = cli(*args, "--retry-failed", "--option", f"base_url={server.base_url}", env=KEY)
        repaid = len(server.requests) - paid
    assert first.exit_code == 0, first.output
    assert "eliminated:stopwords-only 2" in first.output
    assert failures == {"eliminated:stopwords-only": 2}
    assert paid == 3 and cached == 2  # the kept record's reply is journaled as its record
    assert again.exit_code == 0, again.output
    assert repaid == 0 and "eliminated:stopwords-only 2" in again.output
    assert len(read_jsonl(out)) == 1
