"""Rate limits: the AIMD pace (with a fake clock), and runs against a 127.0.0.1 provider that
answers 429s and 5xx: a 429 is never final within the run's budget, 5xx never slows the pace."""

from __future__ import annotations

import json
from typing import ClassVar

import pytest
from conftest import SAMPLES, fake_secret, read_jsonl
from servers import Fault, ProviderServer

from janus_core.run import engine as engine_module
from janus_core.run.throttle import AdaptiveRate

SECRET = fake_secret("provider-key")
GOOD = json.dumps({"instruction": "Plan our weekly budget meeting", "response": "Start with one shared hour"})


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def answers(rate: AdaptiveRate, clock: Clock, seconds: float) -> None:
    """Answers (not 429s) arriving at the current pace for ``seconds``."""
    end = clock.now + seconds
    while clock.now < end:
        clock.now += 1 / rate.rate
        rate.success()


def test_aimd_cuts_once_per_burst_grows_additively_and_stays_near_the_observed_limit():
    clock = Clock()
    rate = AdaptiveRate(clock=clock)
    rate.limited(retry_after=None, sent_at=clock.now)  # unpaced until now: start low, grow fast
    answers(rate, clock, 10)
    peak = rate.rate
    assert peak > 5
    sent = clock.now - 0.05
    clock.now += 0.1
    for _ in range(6):  # one burst: six 429s for requests sent before the cut
        rate.limited(retry_after=0.2, sent_at=sent)
    assert rate.rate == pytest.approx(peak * 0.9)
    assert rate.observed == pytest.approx(peak)
    # additive: every second of answers adds the same, `step` of the observed limit
    gains = []
    for _ in range(4):
        before = rate.rate
        answers(rate, clock, 1)
        gains.append(rate.rate - before)
    assert gains == pytest.approx([rate.step * peak] * 4, rel=0.15)
    # a minute of answers: back at the observed limit, and not far past it
    answers(rate, clock, 60)
    assert peak * 0.99 <= rate.rate <= peak * 1.05
    # a new burst (a request sent after the cut) cuts again, from the pace it began at
    at = rate.rate
    rate.limited(retry_after=None, sent_at=clock.now)
    assert rate.rate == pytest.approx(at * 0.9) and rate.observed == pytest.approx(at)


def test_aimd_pause_is_bounded_and_the_pace_has_a_floor():
    clock = Clock()
    rate = AdaptiveRate(per_minute=600, clock=clock)
    rate.limited(retry_after=86400, sent_at=clock.now)  # a daily quota's Retry-After
    assert rate.blocked_until == pytest.approx(clock.now + rate.max_pause)
    for _ in range(200):  # a storm: every request sent after the last cut answers 429
        clock.now += 1
        rate.limited(retry_after=0, sent_at=clock.now)
    assert rate.rate == pytest.approx(rate.min_rate)
    assert rate.stalled_for() == pytest.approx(200)
    rate.success()
    assert rate.stalled_for() == 0


def test_aimd_answers_with_5xx_are_not_congestion():
    clock = Clock()
    rate = AdaptiveRate(per_minute=600, clock=clock)
    rate.limited(retry_after=None, sent_at=clock.now)
    cut = rate.rate
    answers(rate, clock, 5)  # the engine reports 200s and 5xx alike as answers
    assert rate.rate > cut and rate.observed == pytest.approx(10)


class Spy(AdaptiveRate):
    """The engine's pace, kept for the test to read after the run."""

    made: ClassVar[list[Spy]] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.cuts = 0
        self.answers = 0
        Spy.made.append(self)

    def success(self) -> None:
        self.answers += 1
        super().success()

    def limited(self, retry_after, sent_at=None) -> None:
        before = self.rate
        super().limited(retry_after, sent_at)
        self.cuts += self.rate != before


@pytest.fixture
def spy(monkeypatch):
    Spy.made = []
    monkeypatch.setattr(engine_module, "AdaptiveRate", Spy)
    return Spy.made


def run(cli, tmp_path, faults, *extra, seeds=1):
    server = ProviderServer("openai", lambda body: GOOD)
    server.faults = list(faults)
    out = tmp_path / "o.jsonl"
    with server:
        result = cli("generate", SAMPLES / "marriage_counsel_instruct", "--backend", "openai", "--model", "test-model",
                     "--option", f"base_url={server.base_url}", "--max-seeds", str(seeds), "--d-factor", "0",
                     "--out", out, "-q", "--log-json", "--no-filters", *extra, env={"OPENAI_API_KEY": SECRET})
    summary = json.loads(result.stderr.splitlines()[-1])
    return result, server, out, summary


def test_a_burst_of_429s_ends_in_no_failure_even_with_no_retries(cli, tmp_path):
    burst = [Fault(429, {"retry-after-ms": "20"})] * 12
    result, server, out, summary = run(cli, tmp_path, burst, "--retries", "0", "--concurrency", "4", seeds=3)
    assert result.exit_code == 0, result.output
    assert summary["failures"] == {} and summary["rate_limited"] == 12
    assert len(read_jsonl(out)) == 3 and len(server.requests) == 15


def test_429s_do_not_count_against_retries_but_5xx_do(cli, tmp_path):
    # one job: 429, 500, 429, 429, 429, then an answer; --retries 1 allows the single 500
    faults = [Fault(429, {"retry-after-ms": "10"}), Fault(500)] + [Fault(429, {"retry-after-ms": "10"})] * 3
    result, server, out, summary = run(cli, tmp_path, faults, "--retries", "1", "--concurrency", "1")
    assert result.exit_code == 0, result.output
    assert summary["failures"] == {} and len(read_jsonl(out)) == 1 and len(server.requests) == 6
    # two 5xx are one more than --retries 1 allows: that is a failure, and it is not a rate limit
    result, server, out, summary = run(cli, tmp_path, [Fault(500), Fault(429), Fault(500)], "--retries", "1",
                                       "--concurrency", "1", "--overwrite")
    assert summary["failures"] == {"transport": 1} and len(server.requests) == 3


def test_5xx_does_not_cut_the_pace(cli, tmp_path, spy):
    faults = [Fault(429, {"retry-after-ms": "10"})] + [Fault(500), Fault(200), Fault(200)] * 3
    result, server, out, summary = run(cli, tmp_path, faults, "--rpm", "6000", "--concurrency", "1", seeds=6)
    assert result.exit_code == 0, result.output
    assert len(read_jsonl(out)) == 6 and summary["failures"] == {}
    pace = spy[0]
    assert pace.cuts == 1  # the 429 only
    assert pace.answers == len(server.requests) - 1  # every answer but the 429, the three 500s too
    assert pace.rate > pace.safe  # and the pace grew back from the cut through them


def test_a_429_storm_stops_the_run_cleanly_without_failures(cli, tmp_path):
    storm = [Fault(429, {"Retry-After": "0"})] * 10_000
    result, server, _out, summary = run(cli, tmp_path, storm, "--rate-limit-wait", "1.5", "--concurrency", "8",
                                        seeds=4)
    assert result.exit_code == 0, result.output
    assert "answered only 429" in summary["stopped"] and summary["failures"] == {}
    assert len(server.requests) < 40  # the pace slows at every burst: no spinning
    # nothing is in the failure ledger: a rerun asks again
    _result, _server, _out, summary = run(cli, tmp_path, [], seeds=4)
    assert summary["records"] == 4 and summary["earlier_failures"] == 0


def test_the_budget_still_stops_a_run_among_429s(cli, tmp_path):
    faults = [Fault(429, {"retry-after-ms": "10"})] * 5
    result, _server, _out, summary = run(cli, tmp_path, faults, "--max-requests", "2", "--concurrency", "2",
                                         seeds=4)
    assert result.exit_code == 0, result.output
    assert summary["requests"] == 2 and "--max-requests 2 reached" in summary["stopped"]
    assert summary["failures"] == {}
