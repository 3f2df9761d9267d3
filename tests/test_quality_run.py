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
