"""Shards without a cluster: `generate --shard I/N` plans one share of the seeds, `merge` joins the
shares into the dataset a single run makes (same ids, same records), with one journal."""

from __future__ import annotations

import hashlib
import json

import pytest
from conftest import SAMPLES, fake_secret, read_jsonl
from servers import OpenAICompatibleServer, chat_completion

from janus_core.plan.shards import Shard, shard_of

SECRET = fake_secret("openai-key")
SPEC = SAMPLES / "marriage_counsel"


def distinct_reply(body):
    """A conversation that depends on the whole prompt: different prompts, different records."""
    digest = hashlib.sha256(json.dumps(body["messages"]).encode()).hexdigest()
    words = " ".join(f"w{digest[i:i + 4]}" for i in range(0, 40, 4))
    turns = [{"user": f"We argue about {words} every week.", "assistant": f"Tell me more about {words[:30]}."}]
    return 200, chat_completion(json.dumps({"turns": turns}), model=body["model"]), {}


def same_reply(body):
    """The same conversation whatever is asked: every record a duplicate of the first."""
    turns = [{"user": "We argue about money every single week and it wears us both down.",
              "assistant": "Money fights are common; let us look at what each of you fears."}]
    return 200, chat_completion(json.dumps({"turns": turns}), model=body["model"]), {}


def generate(cli, server, out, *extra):
    result = cli("generate", SPEC, "--backend", "openai", "--model", "m", "--option", f"base_url={server.base_url}",
                 "--out", out, "-q", "--s-factor", "4", "--d-factor", "1", "--rounds", "2", *extra,
                 env={"OPENAI_API_KEY": SECRET})
    return result


def by_id(path):
    return {r["id"]: r for r in read_jsonl(path)}


def test_shard_parsing_and_assignment():
    assert Shard.parse("2/8") == Shard(1, 8) and str(Shard.parse(" 3 / 4 ")) == "3/4"
    for bad in ("0/3", "4/3", "2", "a/b", "1/0"):
        with pytest.raises(Exception, match="--shard"):
            Shard.parse(bad)
    keys = [f"seed|ctx{i}|general|0" for i in range(300)]
    owners = [sum(Shard(i, 3).owns(k) for i in range(3)) for k in keys]
    assert owners == [1] * 300  # every seed in exactly one share
    counts = [sum(shard_of(k, 3) == i for k in keys) for i in range(3)]
    assert min(counts) > 60  # and the shares are about even
    assert all(Shard(0, 1).owns(k) for k in keys)


def test_shards_merged_make_the_single_runs_records(cli, tmp_path):
    with OpenAICompatibleServer(distinct_reply) as server:
        assert generate(cli, server, tmp_path / "all.jsonl", "--no-filters").exit_code == 0
        parts = []
        for i in (1, 2, 3):
            part = tmp_path / f"part-{i}.jsonl"
            result = generate(cli, server, part, "--no-filters", "--shard", f"{i}/3")
            assert result.exit_code == 0, result.output
            parts.append(part)
    plain = by_id(tmp_path / "all.jsonl")
    shares = [by_id(p) for p in parts]
    assert all(shares) and sum(map(len, shares)) == len(plain)
    assert not set(shares[0]) & set(shares[1])  # no record in two shares
    merged = tmp_path / "merged.jsonl"
    result = cli("merge", *parts, "--out", merged)
    assert result.exit_code == 0, result.output
    assert f"{len(plain)} records" in result.output
    got = by_id(merged)
    assert set(got) == set(plain)
    for rid, record in plain.items():
        assert got[rid]["messages"] == record["messages"] and got[rid]["parent_id"] == record["parent_id"]
    # the merged output is a run like any other: stats, doctor, and a plain rerun has nothing left to do
    stats = cli("stats", merged, "--json", "--no-report")
    assert stats.exit_code == 0, stats.output
    assert json.loads(stats.output)["records"] == len(plain)
    assert cli("doctor", merged).exit_code == 0
    with OpenAICompatibleServer(distinct_reply) as server:
        rerun = generate(cli, server, merged, "--no-filters")
        assert rerun.exit_code == 0, rerun.output
        assert server.requests == []  # everything was done: nothing is paid again
    # merging again over it needs --overwrite, and then gives the same
    assert cli("merge", *parts, "--out", merged).exit_code != 0
    assert cli("merge", *parts, "--out", merged, "--overwrite").exit_code == 0
    assert set(by_id(merged)) == set(plain)


def test_dry_run_counts_of_the_shares_add_up_to_the_plan(cli, tmp_path):
    def seeds(*extra):
        result = cli("generate", SPEC, "--backend", "openai", "--model", "m", "--out", tmp_path / "x.jsonl",
                     "--d-factor", "1", "--dry-run", "--log-json", *extra, env={"OPENAI_API_KEY": SECRET})
        assert result.exit_code == 0, result.output
        plan = json.loads(result.output)
        return plan["seed_requests"], plan["derivation_requests"]

    whole = seeds("--s-factor", "5")
    shares = [seeds("--s-factor", "5", "--shard", f"{i}/4") for i in (1, 2, 3, 4)]
    assert tuple(map(sum, zip(*shares, strict=True))) == whole


def test_a_share_is_refused_where_it_does_not_belong(cli, tmp_path):
    with OpenAICompatibleServer(distinct_reply) as server:
        one = tmp_path / "p1.jsonl"
        assert generate(cli, server, one, "--no-filters", "--shard", "1/2").exit_code == 0
        # the same output continued as another share, or unsharded: refused, naming the shard
        other = generate(cli, server, one, "--no-filters", "--shard", "2/2")
        assert other.exit_code != 0 and "shard" in other.output
        twice = tmp_path / "p1-again.jsonl"
        assert generate(cli, server, twice, "--no-filters", "--shard", "1/2").exit_code == 0
        seeded = tmp_path / "p2-seed1.jsonl"
        assert generate(cli, server, seeded, "--no-filters", "--shard", "2/2", "--seed", "1").exit_code == 0
        plain = tmp_path / "plain.jsonl"
        assert generate(cli, server, plain, "--no-filters", "--max-seeds", "1").exit_code == 0
    out = tmp_path / "m.jsonl"
    result = cli("merge", one, twice, "--out", out)
    assert result.exit_code != 0 and "both share 1/2" in result.output
    result = cli("merge", one, seeded, "--out", out)
    assert result.exit_code != 0 and "different runs" in result.output and "seed" in result.output
    result = cli("merge", one, plain, "--out", out)
    assert result.exit_code != 0 and "not made with --shard" in result.output
    result = cli("merge", one, tmp_path / "nowhere.jsonl", "--out", out)
    assert result.exit_code != 0 and "no such file" in result.output
    assert not out.exists()
    # a missing share is named, and the rest is merged
    result = cli("merge", one, "--out", out)
    assert result.exit_code == 0 and "missing: shard 2/2" in result.output
    assert set(by_id(out)) == set(by_id(one))


def test_bad_shard_values_and_target_are_refused(cli, tmp_path):
    for bad in ("3/2", "x", "0/4"):
        result = cli("generate", SPEC, "--shard", bad, "--out", tmp_path / "o.jsonl", "--dry-run")
        assert result.exit_code == 2 and "--shard" in result.output
    result = cli("generate", SPEC, "--shard", "1/2", "--target", "5", "--out", tmp_path / "o.jsonl", "--dry-run")
    assert result.exit_code != 0 and "--target" in result.output


def test_duplicates_across_shares_are_dropped_at_the_merge(cli, tmp_path):
    with OpenAICompatibleServer(same_reply) as server:
        parts = []
        for i in (1, 2):
            part = tmp_path / f"part-{i}.jsonl"
            assert generate(cli, server, part, "--d-factor", "0", "--shard", f"{i}/2").exit_code == 0
            parts.append(part)
    # each share kept one record (its own duplicate filter dropped the rest)
    assert [len(read_jsonl(p)) for p in parts] == [1, 1]
    out = tmp_path / "m.jsonl"
    result = cli("merge", *parts, "--out", out)
    assert result.exit_code == 0, result.output
    assert "1 cross-share duplicates" in result.output
    kept = read_jsonl(out)
    assert len(kept) == 1 and kept[0]["id"] == min(r["id"] for p in parts for r in read_jsonl(p))
    stats = json.loads(cli("stats", out, "--json", "--no-report").output)
    assert stats["failures"]["eliminated:duplicate"] >= 1


def test_a_share_stopped_early_continues_as_itself(cli, tmp_path):
    with OpenAICompatibleServer(distinct_reply) as server:
        part = tmp_path / "p.jsonl"
        assert generate(cli, server, part, "--no-filters", "--shard", "1/2", "--max-requests", "3").exit_code == 0
        early = set(by_id(part))
        paid = len(server.requests)
        assert generate(cli, server, part, "--no-filters", "--shard", "1/2").exit_code == 0
        done = set(by_id(part))
        again = len(server.requests)
        assert generate(cli, server, part, "--no-filters", "--shard", "1/2").exit_code == 0
    assert early < done and paid == 3 and len(server.requests) == again  # the third run had nothing to pay for
