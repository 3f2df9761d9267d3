"""Deduplication: a crafted set with known exact and near duplicates, within a run and --against."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from conftest import SAMPLES, read_jsonl
from servers import ProviderServer

from janus_core.data import dedup
from janus_core.data.dedup import BandIndex, Deduper, exact_key, lsh_bands

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


@pytest.mark.parametrize("flush_every", [7, 512])
def test_the_index_finds_the_same_whether_in_memory_or_flushed(monkeypatch, flush_every):
    """Every few texts written to the on-disk tables and merged into the sorted band arrays, or all
    still in memory: the same duplicates, named by the same earlier key."""
    monkeypatch.setattr(dedup, "FLUSH_EVERY", flush_every)
    texts, truth = crafted(seed=11, originals=150)
    deduper = Deduper(threshold=0.8)
    found = {i: deduper.check_and_add(str(i), t) for i, t in enumerate(texts)}
    flagged = {i: int(f[1]) for i, f in found.items() if f}
    assert {i: flagged.get(i) for i in truth} == truth
    assert not set(flagged) - set(truth)
    assert len(deduper) == len(texts) - len(truth)  # the duplicates were not remembered


def test_a_key_remembered_twice_keeps_its_first_text(monkeypatch):
    monkeypatch.setattr(dedup, "FLUSH_EVERY", 2)
    first = " ".join(f"a{i}" for i in range(60))
    second = " ".join(f"b{i}" for i in range(60))
    deduper = Deduper()
    assert deduper.check_and_add("k", first) is None
    deduper.check_and_add("x", "some filler text to make the index flush now and then ok")
    _, token = deduper.query(second)
    deduper.add("k", token)  # the same key again, after the first was flushed
    deduper.check_and_add("y", "more filler text so that the second key is flushed as well")
    assert deduper.check_and_add("z", first + " a60") == ("near", "k")
    assert len(deduper) == 3


def test_band_index_is_a_multimap_across_merges():
    index = BandIndex()
    index.add(np.array([5, 9], dtype=np.uint64), 0)
    index.add(np.array([9, 2], dtype=np.uint64), 1)
    assert index.lookup(np.array([9], dtype=np.uint64)) == {0, 1}
    index.merge(set())
    index.add(np.array([9, 7], dtype=np.uint64), 2)
    index.add(np.array([3], dtype=np.uint64), 3)
    assert index.lookup(np.array([9, 3], dtype=np.uint64)) == {0, 1, 2, 3}
    index.merge({3})  # a dropped row leaves the index
    assert index.lookup(np.array([9, 3, 4], dtype=np.uint64)) == {0, 1, 2}
    assert list(index.keys) == sorted(index.keys)


def test_bands_and_rows_are_datasketchs_choice():
    lsh = pytest.importorskip("datasketch.lsh", reason="datasketch (dev extra) picks the bands to compare with")
    for threshold in (0.5, 0.7, 0.8, 0.85, 0.9, 0.95):
        for num_perm in (64, 128, 256):
            for weights in ((0.5, 0.5), (0.1, 0.9)):
                assert lsh_bands(threshold, num_perm, weights) == lsh._optimal_param(threshold, num_perm, *weights)


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
