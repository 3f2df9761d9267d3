"""Deduplication: a crafted set with known exact and near duplicates, within a run and --against."""

from __future__ import annotations

import json
import random

from conftest import SAMPLES, read_jsonl
from servers import ProviderServer

from janus_core.data.dedup import Deduper, exact_key

VOCAB = [f"w{i}" for i in range(5000)]


def crafted(seed: int = 7, originals: int = 300):
    """Originals, plus exact copies (case and punctuation changed) and near copies (one word in 120
    changed: Jaccard about 0.92 on word 5-grams), with the truth: which index duplicates which."""
    rng = random.Random(seed)
    texts, truth = [], {}
    for _ in range(originals):
        texts.append(" ".join(rng.choice(VOCAB) for _ in range(120)))
    for i in range(0, originals, 3):  # 100 exact copies
        truth[len(texts)] = i
        texts.append(texts[i].upper().replace(" ", ",  "))
    for i in range(1, originals, 3):  # 100 near copies
        tokens = texts[i].split()
        tokens[rng.randrange(120)] = rng.choice(VOCAB)
        truth[len(texts)] = i
        texts.append(" ".join(tokens))
    return texts, truth


def test_precision_and_recall_on_a_crafted_set():
    texts, truth = crafted()
    deduper = Deduper(threshold=0.8)
    flagged = {i for i, t in enumerate(texts) if deduper.check_and_add(str(i), t)}
    true_positive = len(flagged & set(truth))
    precision = true_positive / len(flagged) if flagged else 1.0
    recall = true_positive / len(truth)
    print(f"\ndedup on {len(texts)} texts with {len(truth)} known duplicates: "
          f"precision {precision:.3f}, recall {recall:.3f}")
    assert precision >= 0.98 and recall >= 0.95


def test_exact_key_ignores_case_punctuation_and_spacing():
    assert exact_key("Hello,   World!") == exact_key("hello world")
    assert exact_key("hello world") != exact_key("hello there world")


def test_dissimilar_texts_are_kept():
    deduper = Deduper()
    assert deduper.check_and_add("a", "the couple argues about money every single weekend at home") is None
    assert deduper.check_and_add("b", "a patient wants to move an appointment to friday morning please") is None


def _reply(texts):
    it = iter(texts)

    def reply(body):
        return json.dumps({"instruction": next(it), "response": "A fitting and careful answer to that request."})
    return reply


def test_duplicates_are_eliminated_in_a_run_and_against_a_dataset(cli, tmp_path):
    base = "Please help us plan: " + " ".join(f"task{i}" for i in range(100))  # a long request
    texts = [base, base.upper() + "!", base + " please", "What should we do when my mother visits for a month"]
    out = tmp_path / "o.jsonl"
    with ProviderServer("openai", _reply(texts)) as server:
        result = cli("generate", SAMPLES / "marriage_counsel_instruct", "--backend", "openai", "--option",
                     f"base_url={server.base_url}", "--d-factor", "0", "--max-seeds", "4", "--concurrency", "1",
                     "--out", out, "-q", env={"OPENAI_API_KEY": "k-0123456789"})
    assert result.exit_code == 0, result.output
    kept = [r["messages"][0]["content"] for r in read_jsonl(out)]
    assert kept == [texts[0], texts[3]]
    assert "eliminated:duplicate 2" in result.output
    # against an existing dataset: nothing new may repeat what it holds
    against = tmp_path / "old.jsonl"
    against.write_text(json.dumps({"messages": [{"role": "user", "content": texts[3]},
                                                {"role": "assistant", "content": "A fitting and careful answer to "
                                                                                 "that request."}]}) + "\n")
    out2 = tmp_path / "o2.jsonl"
    with ProviderServer("openai", _reply([texts[3], texts[0]])) as server:
        result = cli("generate", SAMPLES / "marriage_counsel_instruct", "--backend", "openai", "--option",
                     f"base_url={server.base_url}", "--d-factor", "0", "--max-seeds", "2", "--concurrency", "1",
                     "--against", against, "--out", out2, "-q", env={"OPENAI_API_KEY": "k-0123456789"})
    assert [r["messages"][0]["content"] for r in read_jsonl(out2)] == [texts[0]]
