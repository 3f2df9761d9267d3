"""Rounds of evolution: lineage over three rounds, eliminations to the ledger, evolution trees."""

from __future__ import annotations

from pathlib import Path

from conftest import SAMPLES, read_jsonl

from janus_core.run.journal import Journal, journal_path

FILLER = Path(__file__).resolve().parent / "plugins" / "schema_filler.py"


def generate(cli, out, *args):
    return cli("--plugin", FILLER, "generate", SAMPLES / "marriage_counsel", "--backend", "schema-filler",
               "--out", out, "-q", *args)


def test_lineage_across_three_rounds(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    result = generate(cli, out, "--rounds", "3", "--no-filters")
    assert result.exit_code == 0, result.output
    records = read_jsonl(out)
    by_id = {r["id"]: r for r in records}
    # 3 seeds; round 1: 2 directions each; rounds 2 and 3: one more evolution per record
    assert sorted(r["depth"] for r in records) == [0] * 3 + [1] * 6 + [2] * 6 + [3] * 6
    for r in records:
        if r["depth"] == 0:
            assert r["parent_id"] is None and r["seed_id"] == r["id"]
            continue
        parent = by_id[r["parent_id"]]
        assert r["depth"] == parent["depth"] + 1
        assert r["seed_id"] == parent["seed_id"]
        assert r["direction"] in ("general", "in-depth")
        # a conversation keeps the one it continues
        assert r["messages"][: len(parent["messages"])] == parent["messages"]


def test_eliminated_evolutions_go_to_the_ledger_and_their_parents_evolve_again(cli, tmp_path):
    from janus_core.sdk.records import record_id

    out = tmp_path / "o.jsonl"
    # the filler answers with sentences picked by the direction's wording, so an evolution along the
    # same wording as its parent repeats it: the no-change rule eliminates those, and the parent is
    # evolved again
    result = generate(cli, out, "--rounds", "2", "--option", "voice=plain")
    assert result.exit_code == 0, result.output
    journal = Journal(journal_path(out))
    ledger = journal.failures()
    journal.close()
    eliminated = [f for f in ledger if f["reason"] == "eliminated:no-change"]
    assert eliminated, result.output
    assert all("the same as its parent" in f["detail"] for f in eliminated)
    record_ids = {r["id"] for r in read_jsonl(out)}
    ledger_keys = {f["job_key"] for f in ledger}
    for f in eliminated:
        if f["job_key"].count("|retry:") >= 2:
            continue  # out of attempts: the chain ends here
        retries = [f"{f['job_key']}|retry:{name}" for name in ("general", "in-depth")]
        # the parent went back to the pool: its retry job either made a record or is in the ledger
        assert any(record_id(k) in record_ids or k in ledger_keys for k in retries), f["job_key"]


def test_stats_and_tree(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    generate(cli, out, "--rounds", "2", "--no-filters")
    result = cli("stats", out, "--no-report")
    assert result.exit_code == 0
    assert "15 records (3 seeds)" in result.output
    depths = result.output.split("Records per depth")[1].split("Coverage")[0]
    assert [line.split() for line in depths.splitlines() if line.strip()[:1].isdigit()] == \
        [["0", "3"], ["1", "6"], ["2", "6"]]
    seed = next(r for r in read_jsonl(out) if r["depth"] == 0)
    tree = cli("stats", out, "--tree", seed["id"]).output.splitlines()
    assert tree[0].startswith(f"{seed['id']} [general] depth 0:")
    assert sum("depth 1:" in line for line in tree) == 2 and sum("depth 2:" in line for line in tree) == 2
    missing = cli("stats", out, "--tree", "nope")
    assert missing.exit_code == 1 and "no record 'nope'" in missing.stderr
