"""`generate --executor ray`: the seeds split between Ray workers on a local cluster (started by the
test on 127.0.0.1 with two CPUs), one journal at the driver, the record ids of a local run."""

from __future__ import annotations

import hashlib
import json
import threading
import time

import pytest
from conftest import SAMPLES, fake_secret, read_jsonl
from servers import OpenAICompatibleServer, chat_completion

ray = pytest.importorskip("ray", reason="needs the 'ray' extra")

SECRET = fake_secret("openai-key")
SPEC = SAMPLES / "marriage_counsel"


@pytest.fixture(scope="module", autouse=True)
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    yield
    ray.shutdown()


def distinct_reply(body):
    digest = hashlib.sha256(json.dumps(body["messages"]).encode()).hexdigest()
    words = " ".join(f"w{digest[i:i + 4]}" for i in range(0, 40, 4))
    turns = [{"user": f"We argue about {words} every week.", "assistant": f"Tell me more about {words[:30]}."}]
    return 200, chat_completion(json.dumps({"turns": turns}), model=body["model"]), {}


def slow_reply(body):
    time.sleep(0.05)
    return distinct_reply(body)


def same_reply(body):
    turns = [{"user": "We argue about money every single week and it wears us both down.",
              "assistant": "Money fights are common; let us look at what each of you fears."}]
    return 200, chat_completion(json.dumps({"turns": turns}), model=body["model"]), {}


def generate(cli, server, out, *extra):
    return cli("generate", SPEC, "--backend", "openai", "--model", "m", "--option", f"base_url={server.base_url}",
               "--out", out, "-q", "--s-factor", "4", "--d-factor", "1", *extra, env={"OPENAI_API_KEY": SECRET})


def ids(path):
    records = read_jsonl(path)
    assert len(records) == len({r["id"] for r in records})  # no record twice
    return {r["id"]: r["messages"] for r in records}


def test_two_workers_make_the_local_runs_records(cli, tmp_path):
    with OpenAICompatibleServer(distinct_reply) as server:
        assert generate(cli, server, tmp_path / "local.jsonl", "--no-filters").exit_code == 0
        local_requests = len(server.requests)
        result = generate(cli, server, tmp_path / "ray.jsonl", "--no-filters", "--executor", "ray", "--workers", "2")
        assert result.exit_code == 0, result.output
    assert ids(tmp_path / "ray.jsonl") == ids(tmp_path / "local.jsonl")
    assert len(server.requests) == 2 * local_requests  # each request once on the Ray path too
    stats = json.loads(cli("stats", tmp_path / "ray.jsonl", "--json", "--no-report").output)
    assert stats["records"] == len(ids(tmp_path / "local.jsonl"))


def test_a_killed_worker_is_replaced_and_nothing_is_lost_or_written_twice(cli, tmp_path):
    with OpenAICompatibleServer(distinct_reply) as server:
        assert generate(cli, server, tmp_path / "local.jsonl", "--no-filters").exit_code == 0
    killed = threading.Event()
    with OpenAICompatibleServer(slow_reply) as server:
        def kill_when_busy():
            deadline = time.time() + 60
            while time.time() < deadline and len(server.requests) < 8:
                time.sleep(0.02)
            try:
                ray.kill(ray.get_actor("janus-worker-0-0"))
                killed.set()
            except ValueError:  # the worker had finished already
                pass

        killer = threading.Thread(target=kill_when_busy)
        killer.start()
        result = generate(cli, server, tmp_path / "ray.jsonl", "--no-filters", "--executor", "ray", "--workers", "2",
                          "--concurrency", "1", "--log-json")
        killer.join()
        assert result.exit_code == 0, result.output
    assert killed.is_set(), "the worker finished before it could be killed"
    summary = json.loads([line for line in result.output.splitlines() if '"summary"' in line][-1])
    assert summary["restarts"] >= 1
    assert ids(tmp_path / "ray.jsonl") == ids(tmp_path / "local.jsonl")


def test_a_run_stopped_early_continues_on_ray_without_paying_twice(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    with OpenAICompatibleServer(distinct_reply) as server:
        assert generate(cli, server, out, "--no-filters", "--max-requests", "10").exit_code == 0
        assert len(read_jsonl(out)) == 10
        result = generate(cli, server, out, "--no-filters", "--executor", "ray", "--workers", "2")
        assert result.exit_code == 0, result.output
        paid = len(server.requests)
    with OpenAICompatibleServer(distinct_reply) as fresh:
        assert generate(cli, fresh, tmp_path / "whole.jsonl", "--no-filters").exit_code == 0
    assert paid == len(fresh.requests)  # the first ten were not asked again
    assert ids(out) == ids(tmp_path / "whole.jsonl")


def test_duplicates_across_workers_are_dropped_at_the_driver(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    with OpenAICompatibleServer(same_reply) as server:
        result = generate(cli, server, out, "--d-factor", "0", "--executor", "ray", "--workers", "2")
        assert result.exit_code == 0, result.output
    assert len(read_jsonl(out)) == 1
    stats = json.loads(cli("stats", out, "--json", "--no-report").output)
    assert stats["failures"]["eliminated:duplicate"] >= 1


def test_ray_does_not_go_with_shard_target_or_batch(cli, tmp_path):
    for extra in (("--shard", "1/2"), ("--target", "3"), ("--batch",)):
        result = cli("generate", SPEC, "--executor", "ray", *extra, "--out", tmp_path / "o.jsonl", "--dry-run")
        assert result.exit_code != 0 and "--executor ray" in result.output


def test_the_budget_holds_across_workers(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    with OpenAICompatibleServer(distinct_reply) as server:
        result = generate(cli, server, out, "--no-filters", "--executor", "ray", "--workers", "2",
                          "--max-requests", "7", "--log-json")
        assert result.exit_code == 0, result.output
    assert len(server.requests) == 7 and len(read_jsonl(out)) == 7  # exactly, though two workers drew on it
    summary = json.loads([line for line in result.output.splitlines() if '"summary"' in line][-1])
    assert "--max-requests 7 reached" in summary["stopped"]


def test_a_429_holds_every_worker_not_only_the_one_that_got_it(cli, tmp_path):
    times: list[float] = []
    lock = threading.Lock()
    limited: dict[str, float] = {}

    def reply(body):
        with lock:
            now = time.monotonic()
            times.append(now)
            if "at" not in limited and len(times) == 3:
                limited["at"] = now
                return 429, {"error": {"message": "slow down", "type": "rate_limit"}}, {"Retry-After": "2"}
        return distinct_reply(body)

    with OpenAICompatibleServer(reply) as server:
        result = cli("generate", SPEC, "--backend", "openai", "--model", "m", "--option",
                     f"base_url={server.base_url}", "--out", tmp_path / "o.jsonl", "-q", "--s-factor", "2",
                     "--d-factor", "0", "--no-filters", "--executor", "ray", "--workers", "2", "--concurrency", "1",
                     "--log-json", env={"OPENAI_API_KEY": SECRET})
        assert result.exit_code == 0, result.output
    assert len(read_jsonl(tmp_path / "o.jsonl")) == 6
    # the governor held both workers for the Retry-After: at most the one request the other worker had
    # been granted already reached the server in those two seconds
    during = [t for t in times if limited["at"] < t < limited["at"] + 1.8]
    assert len(during) <= 1, [round(t - limited["at"], 2) for t in times]
    summary = json.loads([line for line in result.output.splitlines() if '"summary"' in line][-1])
    assert summary["rate_limited"] >= 1


def test_a_refused_key_stops_every_worker_and_a_plain_rerun_continues(cli, tmp_path):
    def refuse(body):
        return 401, {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}, {}

    out = tmp_path / "o.jsonl"
    with OpenAICompatibleServer(refuse) as server:
        result = generate(cli, server, out, "--no-filters", "--executor", "ray", "--workers", "2")
    assert result.exit_code == 1
    assert "HTTP 401" in result.output and "OPENAI_API_KEY" in result.output
    with OpenAICompatibleServer(distinct_reply) as server:
        result = generate(cli, server, out, "--no-filters", "--executor", "ray", "--workers", "2")
    assert result.exit_code == 0, result.output
    assert "earlier failures" not in result.output
    assert len(read_jsonl(out)) == 36


def summary_of(result):
    return json.loads([line for line in result.output.splitlines() if '"summary"' in line][-1])


def test_a_paced_run_sends_on_leased_permits_without_asking_for_each_request(cli, tmp_path):
    sent: list[float] = []

    def reply(body):
        sent.append(time.monotonic())
        return distinct_reply(body)

    with OpenAICompatibleServer(reply) as server:
        result = generate(cli, server, tmp_path / "o.jsonl", "--no-filters", "--executor", "ray", "--workers", "2",
                          "--rpm", "600", "--log-json")
        assert result.exit_code == 0, result.output
    assert len(read_jsonl(tmp_path / "o.jsonl")) == len(sent) == 36
    leases = summary_of(result)["leases"]
    # a lease holds up to a second of the pace (10 requests at 600 a minute): a few round trips, not one each
    assert leases["lease_calls"] * 3 <= len(sent), leases
    assert leases["permits"] - leases["returned"] == len(sent)  # every permit was used or given back
    # the two workers together kept the run's pace (a lower bound only: sending slower is never wrong)
    assert sent[-1] - sent[0] >= 0.8 * (len(sent) - 1) / 10


def test_max_requests_is_exact_with_leases_and_unused_permits_come_back(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    with OpenAICompatibleServer(distinct_reply) as server:
        result = generate(cli, server, out, "--no-filters", "--executor", "ray", "--workers", "2",
                          "--max-requests", "25", "--rpm", "3000", "--log-json")
        assert result.exit_code == 0, result.output
        assert len(server.requests) == 25 and len(read_jsonl(out)) == 25
        leases = summary_of(result)["leases"]
        assert leases["permits"] - leases["returned"] == 25
        # the rest, unpaced: a worker leases 32 permits at a time (its --concurrency) and gives back
        # what its share did not need
        result = generate(cli, server, out, "--no-filters", "--executor", "ray", "--workers", "2", "--log-json")
        assert result.exit_code == 0, result.output
        assert len(server.requests) == 36 and len(read_jsonl(out)) == 36
    leases = summary_of(result)["leases"]
    assert leases["returned"] > 0 and leases["permits"] - leases["returned"] == 11


def test_a_cached_reply_keeps_its_tool_calls_and_reasoning_between_journals():
    """What the driver and the workers pass between their journals carries the tool calls and the
    reasoning the journal keeps, so a primed worker replays a tool-use turn as it was."""
    from janus_core.run.ray_executor import cached_completion
    from janus_core.run.tool_requests import stored_extra
    from janus_core.sdk.contracts import Completion, ToolCall

    reply = Completion(text="", model="m", finish_reason="tool_calls", tokens_in=3, tokens_out=2,
                       tool_calls=[ToolCall(id="call_1", name="get_patient", arguments='{"id": 2}')],
                       reasoning="look the patient up first")
    moved = cached_completion(reply.text, reply.model, reply.finish_reason, reply.tokens_in, reply.tokens_out,
                              stored_extra(reply))
    assert moved.tool_calls == reply.tool_calls and moved.reasoning == reply.reasoning
    plain = cached_completion("hi", "m", "stop", 1, 1, None)
    assert plain.tool_calls == [] and plain.reasoning is None
