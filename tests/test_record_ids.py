"""Record ids depend on the job key and --seed: reruns keep them, other seeds change them (seed 0 keeps
the ids made before), and resuming, doctor's import and --input still find what was made."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from conftest import SAMPLES, read_jsonl

from janus_core.run.journal import Journal, journal_path
from janus_core.sdk.records import record_id

FILLER = Path(__file__).resolve().parent / "plugins" / "schema_filler.py"
SPEC = SAMPLES / "marriage_counsel"  # 3 seeds and 6 evolutions with the schema filler


def generate(cli, out, *args):
    return cli("--plugin", FILLER, "generate", SPEC, "--backend", "schema-filler", "--out", out, "-q", "--no-filters",
               "--log-json", *args)


def job_ids(out: Path) -> dict[str, str]:
    with Journal(journal_path(out)) as journal:
        return {key: data["id"] for key, data in journal.entries()}


def test_record_id_hashes_the_key_and_the_seed():
    key = "seed|relationship:A->B#0|general|0"
    assert record_id(key) == record_id(key, 0) == hashlib.sha256(key.encode()).hexdigest()[:16]
    assert len({record_id(key, s) for s in (0, 1, 2, -1)}) == 4


def test_ids_depend_on_the_seed_and_reruns_keep_them(cli, tmp_path):
    ids = {}
    for seed in (0, 1, 2):
        out = tmp_path / f"s{seed}.jsonl"
        assert generate(cli, out, "--seed", seed).exit_code == 0
        records = read_jsonl(out)
        assert len(records) == 9
        ids[seed] = {r["id"] for r in records}
        by_id = {r["id"]: r for r in records}
        for key, rid in job_ids(out).items():  # each id is its job key and the seed, hashed
            assert rid == record_id(key, seed)
        for r in records:  # lineage fields point at this run's ids
            assert r["seed_id"] in by_id and (r["parent_id"] is None or r["parent_id"] in by_id)
    # two seeds of one spec never share an id: their datasets can be put together
    assert not ids[0] & ids[1] and not ids[1] & ids[2] and not ids[0] & ids[2]
    again = tmp_path / "again.jsonl"
    assert generate(cli, again, "--seed", 1).exit_code == 0
    assert {r["id"] for r in read_jsonl(again)} == ids[1]


def test_a_stopped_run_with_a_seed_resumes_with_the_same_ids(cli, tmp_path):
    whole = tmp_path / "whole.jsonl"
    assert generate(cli, whole, "--seed", 7).exit_code == 0
    out = tmp_path / "o.jsonl"
    first = generate(cli, out, "--seed", 7, "--max-requests", "4", "--concurrency", "1")
    assert first.exit_code == 0 and len(read_jsonl(out)) == 4
    rest = generate(cli, out, "--seed", 7)
    assert rest.exit_code == 0, rest.stderr
    summary = json.loads(rest.stderr.splitlines()[-1])
    assert summary["requests"] == 5  # the 4 made before are not asked for again
    assert sorted(r["id"] for r in read_jsonl(out)) == sorted(r["id"] for r in read_jsonl(whole))


def test_doctor_brings_back_records_of_a_seeded_run_and_the_rerun_pays_nothing(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    assert generate(cli, out, "--seed", 5).exit_code == 0
    ids = {r["id"] for r in read_jsonl(out)}
    journal_path(out).write_bytes(b"")  # the journal lost: doctor imports the records from the output
    fixed = cli("doctor", out, "--repair")
    assert fixed.exit_code == 0 and "brought back 9 records" in fixed.output
    rerun = generate(cli, out, "--seed", 5)
    assert rerun.exit_code == 0, rerun.stderr
    assert json.loads(rerun.stderr.splitlines()[-1])["requests"] == 0
    assert {r["id"] for r in read_jsonl(out)} == ids
