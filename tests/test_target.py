"""--target: generate until exactly N records have passed every filter, growing the plan when it
makes too few, and say why when it falls short. Against a stand-in provider on 127.0.0.1."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest
from conftest import SAMPLES, read_jsonl
from servers import Fault, ProviderServer

from janus_core.run.journal import Journal, journal_path

KEY = "k-0123456789"
WORDS = ("money chores weekend family holiday budget trust listening evening dinner parents children work "
         "friends promise patience kindness plans garden moving savings honesty schedule argument calm").split()


def varied_reply(refuse_every: int = 0, refuse_after: int | None = None):
    """A conversation reply whose words depend on the request (distinct records, same for the same
    request); every ``refuse_every``-th request, or every one after ``refuse_after``, is a refusal."""
    count = iter(range(1, 10**9))
    lock = threading.Lock()

    def reply(body):
        with lock:
            n = next(count)
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        rng = random.Random(digest)
        user = " ".join(rng.choice(WORDS) for _ in range(12))
        answer = " ".join(rng.choice(WORDS) for _ in range(14))
        if (refuse_every and n % refuse_every == 0) or (refuse_after is not None and n > refuse_after):
            answer = "Sorry, I cannot help with that."
        return json.dumps({"turns": [{"user": f"We talk about {user}.", "assistant": f"Let us consider {answer}."}]})
    return reply


def generate(cli, server, spec, out, *args):
    return cli("generate", spec, "--backend", "openai", "--option", f"base_url={server.base_url}", "--out", out,
               "-q", *args, env={"OPENAI_API_KEY": KEY})


def summary(result) -> dict:
    return [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")][-1]


def test_a_target_beyond_the_plan_is_reached_exactly(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    # clinic plans 60 seeds and 180 records; 200 takes further walks and draws
    with ProviderServer("openai", varied_reply()) as server:
        result = generate(cli, server, SAMPLES / "clinic", out, "--target", "200", "--no-filters",
                          "--concurrency", "16")
    assert result.exit_code == 0, result.output
    records = read_jsonl(out)
    assert len(records) == 200 and len({r["id"] for r in records}) == 200
    assert len(server.requests) == 200  # no record beyond the target was paid for
    assert "target: 200 of 200 records" in result.stderr
    walked = {r["walk"]["id"] for r in records if r["walk"]["id"].startswith("walk")}
    assert all(r["walk"]["strategy"] == "random" for r in records if r["walk"]["id"] in walked)
    assert sum(r["parent_id"] is None for r in records) > 60  # seeds beyond the plan's 60


def test_a_filter_that_drops_records_still_reaches_the_target(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    # marriage_counsel plans 3 seeds and 9 records; every 4th reply is a refusal the filter drops
    with ProviderServer("openai", varied_reply(refuse_every=4)) as server:
        result = generate(cli, server, SAMPLES / "marriage_counsel", out, "--target", "20", "--concurrency", "4",
                          "--log-json")
    assert result.exit_code == 0, result.output
    records = read_jsonl(out)
    assert len(records) == 20
    assert not any("Sorry" in m["content"] for r in records for m in r["messages"])
    s = summary(result)
    assert s["failures"].get("eliminated:refusal", 0) > 0
    assert s["made"] == 20 and s["shortfall"] is None and s["extended_seeds"] > 0
    # one request per record kept or eliminated, besides the no-change filter's own questions
    made = [b for b in server.requests if b["response_format"]["json_schema"]["name"] != "judge"]
    assert len(made) == 20 + s["failures"]["eliminated:refusal"]
    assert len(server.requests) == s["requests"]


def test_a_target_smaller_than_the_plan_stops_there(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    with ProviderServer("openai", varied_reply()) as server:
        result = generate(cli, server, SAMPLES / "clinic", out, "--target", "7", "--no-filters",
                          "--concurrency", "16")
    assert result.exit_code == 0, result.output
    assert len(read_jsonl(out)) == 7 and len(server.requests) == 7
    # the same target again: reached already, nothing is asked
    with ProviderServer("openai", varied_reply()) as server:
        result = generate(cli, server, SAMPLES / "clinic", out, "--target", "7", "--no-filters")
    assert result.exit_code == 0 and server.requests == []
    assert len(read_jsonl(out)) == 7


def test_a_budget_stops_short_with_the_reason_then_a_rerun_reaches_the_target(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    with ProviderServer("openai", varied_reply()) as server:
        result = generate(cli, server, SAMPLES / "marriage_counsel", out, "--target", "30", "--no-filters",
                          "--max-requests", "12", "--concurrency", "4")
    assert result.exit_code == 3
    assert "target: made 12 of 30" in result.stderr and "--max-requests 12 reached" in result.stderr
    assert len(read_jsonl(out)) == 12
    with ProviderServer("openai", varied_reply()) as server:
        result = generate(cli, server, SAMPLES / "marriage_counsel", out, "--target", "30", "--no-filters",
                          "--log-json")
    assert result.exit_code == 0, result.output
    assert len(server.requests) == 18  # only what was missing
    records = read_jsonl(out)
    assert len(records) == 30 and len({r["id"] for r in records}) == 30
    assert summary(result)["made"] == 30


def test_nothing_new_passing_the_filters_stops_the_growth(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    # after the plan's 9 requests, every reply is a refusal
    with ProviderServer("openai", varied_reply(refuse_after=9)) as server:
        result = generate(cli, server, SAMPLES / "marriage_counsel", out, "--target", "50", "--log-json")
    assert result.exit_code == 3
    s = summary(result)
    assert s["made"] == 9 and s["target"] == 50 and len(read_jsonl(out)) == s["made"]
    assert "brought no record that passed the filters" in s["shortfall"]
    # on a two-entity diagram every walk visits what the plan visits already
    assert "walks are exhausted" in s["shortfall"]
    assert len(server.requests) < 100


def test_the_extend_limit_bounds_the_growth(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    with ProviderServer("openai", varied_reply()) as server:
        result = generate(cli, server, SAMPLES / "marriage_counsel", out, "--target", "100", "--no-filters",
                          "--extend-limit", "2")
    assert result.exit_code == 3
    # 3 seeds may grow to 6, of 3 records each
    assert len(read_jsonl(out)) == 18 == len(server.requests)
    assert "made 18 of 100" in result.stderr and "--extend-limit" in result.stderr


def test_an_interrupted_target_run_resumes_without_paying_twice(tmp_path):
    out = tmp_path / "o.jsonl"
    args = [sys.executable, "-m", "janus_core.cli", "generate", str(SAMPLES / "marriage_counsel"), "--backend",
            "openai", "--out", str(out), "-q", "--no-filters", "--target", "30", "--concurrency", "2"]
    with ProviderServer("openai", varied_reply()) as server:
        server.faults = [Fault(delay=0.15) for _ in range(200)]  # slow enough to be stopped midway
        env = {**os.environ, "OPENAI_API_KEY": KEY}
        proc = subprocess.Popen([*args, "--option", f"base_url={server.base_url}"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not out.exists() or len(out.read_text().splitlines()) < 12):
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        first = len(server.requests)
    journal = Journal(journal_path(out))
    before = journal.count_records()
    journal.close()
    assert 12 <= before < 30
    with ProviderServer("openai", varied_reply()) as server:
        proc = subprocess.run([*args, "--option", f"base_url={server.base_url}"], env=env, capture_output=True,
                              text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    records = read_jsonl(out)
    assert len(records) == 30 and len({r["id"] for r in records}) == 30
    # what the journal held was not asked again: only the records still missing were paid for
    assert len(server.requests) == 30 - before
    # at most what was in flight at the kill (--concurrency 2) and what finished within the last group
    # commit interval (5 ms; each worker at most one) were lost
    assert first - before <= 2 + 2


def test_dry_run_says_what_a_target_plans(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    result = cli("generate", SAMPLES / "marriage_counsel", "--dry-run", "--target", "25", "--out", out,
                 "--log-json")
    assert result.exit_code == 0, result.output
    t = json.loads(result.stdout)["target"]
    # 3 records per seed: 9 seeds for 25 records, 6 of them beyond the plan's 3
    assert (t["records"], t["to_make"], t["plan_records"], t["further_seeds"]) == (25, 25, 9, 6)
    assert t["reachable"] and t["requests"] == 25
    result = cli("generate", SAMPLES / "marriage_counsel", "--dry-run", "--target", "25", "--extend-limit", "2",
                 "--out", out)
    assert "target 25 records (25 to make)" in result.output
    assert "about 6 further seeds" in result.output and "falls short" in result.output
    assert not out.exists()


@pytest.mark.parametrize("seed", [0, 5])
def test_further_seeds_are_the_same_for_the_same_seed_and_new(seed):
    from janus_core.plan.extend import Extension, signature
    from janus_core.plugins import load_plugins
    from janus_core.run.session import RunSettings, backend_choice, make_plan
    from janus_core.spec.model import load_spec

    spec = load_spec(SAMPLES / "clinic")
    plugins = load_plugins()
    settings = RunSettings(seed=seed)
    backend_cls = backend_choice(plugins, spec, settings)[0]

    def further(n):
        the_plan = make_plan(spec, plugins, settings, backend_cls)
        ext = Extension(the_plan)
        return the_plan, ext, [job.key for job in itertools.islice(ext.jobs(), n)]

    the_plan, ext, keys = further(300)
    assert keys == further(300)[2]
    base = {job.key for job in the_plan.seed_jobs()}
    assert len(set(keys)) == 300 and not base & set(keys)
    assert ext.walked > 0
    base_parts = {signature(c) for c in the_plan.contexts}
    walks = {job.context.id: job.context for job in itertools.islice(Extension(the_plan).jobs(), 300)
             if job.context.id.startswith("walk")}
    assert walks and not {signature(c) for c in walks.values()} & base_parts


def test_further_walks_describe_each_relationship_once():
    from janus_core.plan.extend import Extension
    from janus_core.plugins import load_plugins
    from janus_core.run.session import RunSettings, backend_choice, make_plan
    from janus_core.spec.model import load_spec

    spec = load_spec(SAMPLES / "clinic")
    plugins = load_plugins()
    settings = RunSettings()
    the_plan = make_plan(spec, plugins, settings, backend_choice(plugins, spec, settings)[0])
    walks = [job.context for job in itertools.islice(Extension(the_plan).jobs(), 2000)
             if job.context.id.startswith("walk")]
    assert walks
    for ctx in walks:
        assert len(set(ctx.edges)) == len(ctx.edges)
        lines = [line for line in ctx.description.splitlines() if line.startswith("- ")]
        assert len(lines) == len(set(lines)) == len(ctx.entities) + len(ctx.edges)
