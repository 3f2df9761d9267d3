"""Rate limits: the pace against every limiter shape (on a simulated clock), with and without rate
headers, and runs against a 127.0.0.1 provider that answers 429s and 5xx: a 429 is never final
within the run's budget, 5xx never slows the pace."""

from __future__ import annotations

import json
from typing import ClassVar

import pytest
from conftest import SAMPLES, fake_secret, read_jsonl
from pace_simulation import SHAPES, Clock, simulate
from servers import Fault, ProviderServer

from janus_core.run import engine as engine_module
from janus_core.run.throttle import AdaptiveRate
from janus_core.sdk.rate_headers import parse_rate_headers

SECRET = fake_secret("provider-key")
GOOD = json.dumps({"instruction": "Plan our weekly budget meeting", "response": "Start with one shared hour"})


def answers(rate: AdaptiveRate, clock: Clock, seconds: float, per_second: float) -> None:
    """Answers (not 429s) arriving ``per_second`` for ``seconds``."""
    end = clock.now + seconds
    while clock.now < end:
        clock.now += 1 / per_second
        rate.start(clock.now)
        rate.answered()


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_the_pace_recovers_after_a_full_window_whatever_the_limiter(shape):
    # 5 requests a second, no headers: an unpaced start fills the window at once; from the second
    # minute on the pace must hold the limit, with few 429s, not collapse after the first hold
    outcome = simulate(shape, 300, 300)
    assert outcome.share(300, 60, 300) >= 0.9, shape
    assert outcome.share_429(60, 300) < 0.05, shape
    # a token limit binding before the request limit: the same
    outcome = simulate(shape, 600, 300, tokens_per_minute=300 * 130, cost=130)
    assert outcome.share(300, 60, 300) >= 0.9, shape
    assert outcome.share_429(60, 300) < 0.05, shape


@pytest.mark.parametrize("style", ["openai", "anthropic", "ietf"])
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_rate_headers_set_the_pace_with_no_429s(shape, style):
    outcome = simulate(shape, 300, 240, headers=style)
    assert outcome.share(300, 60, 240) >= 0.95 and outcome.share_429(60, 240) == 0, (shape, style)
    outcome = simulate(shape, 600, 240, tokens_per_minute=300 * 130, cost=130, headers=style)
    assert outcome.share(300, 60, 240) >= 0.95 and outcome.share_429(60, 240) == 0, (shape, style)


def test_a_429_after_a_burst_measures_what_got_through_and_holds_for_retry_after():
    clock = Clock(100.0)
    rate = AdaptiveRate(clock=clock)
    rate.start(clock.now)
    answers(rate, clock, 10, per_second=30)  # 300 let through in 10 s ...
    rate.start(clock.now)
    rate.limited(retry_after=50, sent_at=clock.now)  # ... then "retry after 50 s": 5 a second
    assert rate.rate == pytest.approx(300 / 60, rel=0.02) and rate.reliable
    assert rate.blocked_until == pytest.approx(clock.now + 50)
    assert rate.next_start(clock.now) == pytest.approx(clock.now + 50)
    cut = rate.rate
    for _ in range(20):  # the rest of the burst, sent before the cut: the hold only, no new estimate
        rate.limited(retry_after=49, sent_at=clock.now - 1)
    assert rate.rate == cut
    # after the hold the pace is the estimate, and grows back slowly while answers come
    clock.now += 50
    answers(rate, clock, 30, per_second=cut)
    assert cut <= rate.rate <= cut * 1.01
    answers(rate, clock, 200, per_second=cut)
    assert rate.rate > cut * 1.3  # probing past it, so a raised limit is found


def test_a_429_after_the_hold_measures_since_the_window_reset():
    clock = Clock(100.0)
    rate = AdaptiveRate(clock=clock, wall=lambda: 1_000_030.0)  # the hold ends at :49, not on the minute
    rate.start(clock.now)
    answers(rate, clock, 1, per_second=300)
    rate.limited(retry_after=19, sent_at=clock.now)  # a window reset on the minute, 20 s from the start
    assert rate.rate == pytest.approx(300 / 20, rel=0.02)  # all that can be known: too high
    clock.now += 19
    answers(rate, clock, 20, per_second=15)  # the next window's 300 went in 20 s
    rate.limited(retry_after=40, sent_at=clock.now)
    assert rate.rate == pytest.approx(300 / 60, rel=0.02)  # not 600 over the run's 40 s


def test_a_hold_that_ends_on_the_minute_is_a_window_a_minute_long():
    # the run began 40 s into a window reset on the minute: 300 went through at once, then "retry
    # after 19 s", which ends on the minute; the limit is 300 a minute, not 300 in 20 s
    clock = Clock(100.0)
    rate = AdaptiveRate(clock=clock, wall=lambda: clock.now + 1_000_000.0 - 1_000_000.0 % 60)
    rate.start(clock.now)
    answers(rate, clock, 1, per_second=300)
    rate.limited(retry_after=19, sent_at=clock.now)
    assert (clock.now + 19) % 60 == pytest.approx(0, abs=0.01)
    assert rate.rate == pytest.approx(300 / 60, rel=0.02)


def test_the_pause_is_bounded_a_storm_goes_a_second_apart_and_5xx_are_answers():
    clock = Clock(100.0)
    rate = AdaptiveRate(per_minute=600, clock=clock)
    rate.start(clock.now)
    rate.limited(retry_after=86400, sent_at=clock.now)  # a daily quota's Retry-After
    assert rate.blocked_until == pytest.approx(clock.now + rate.max_pause)
    clock.now = rate.blocked_until
    for _ in range(200):  # a storm: every request sent after the last cut answers 429
        clock.now = rate.next_start(clock.now)
        rate.start(clock.now)
        rate.limited(retry_after=0, sent_at=clock.now)
    assert rate.rate == pytest.approx(1.0)  # a second apart: no spinning
    assert rate.stalled_for() == pytest.approx(rate.max_pause + 199)
    clock.now += 1
    rate.answered()  # a 5xx is reported as an answer: let through, no cut
    assert rate.stalled_for() == 0 and rate.rate == pytest.approx(1.0) and rate.in_flight == 0


def test_the_pace_never_exceeds_the_configured_ceiling():
    clock = Clock(100.0)
    rate = AdaptiveRate(per_minute=120, clock=clock)
    rate.start(clock.now)
    rate.limited(retry_after=0, sent_at=clock.now)
    answers(rate, clock, 600, per_second=2)
    assert rate.limit == pytest.approx(2.0)
    headers = parse_rate_headers({"x-ratelimit-limit-requests": "6000", "x-ratelimit-remaining-requests": "5999",
                                  "x-ratelimit-reset-requests": "10ms"})
    rate.answered(headers)
    assert rate.limit == pytest.approx(2.0)  # headers never lift the pace past --rpm


class Spy(AdaptiveRate):
    """The engine's pace, kept for the test to read after the run."""

    made: ClassVar[list[Spy]] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.cuts = 0
        self.answers = 0
        Spy.made.append(self)

    def answered(self, headers=None, tokens=0, sent_at=None) -> None:
        self.answers += 1
        super().answered(headers, tokens, sent_at)

    def limited(self, retry_after, sent_at=None, headers=None) -> None:
        before = self.last_cut
        super().limited(retry_after, sent_at, headers)
        self.cuts += self.last_cut != before


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
    assert pace.rate > pace.estimate  # and the pace grew back from the cut through them


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


def test_answers_let_through_before_a_429_count_in_the_engines_estimate(cli, tmp_path, spy):
    # six sent at once: the first answers 429 at once ("retry after 2 s"), five more come back later
    # with 200s; they were let through in the same window, so the pace is about 5 / 2 s, not 1 a second
    faults = [Fault(429, {"retry-after-ms": "2000"})] + [Fault(200, delay=0.5)] * 5
    result, _server, out, summary = run(cli, tmp_path, faults, "--concurrency", "6", seeds=6)
    assert result.exit_code == 0, result.output
    assert summary["failures"] == {} and len(read_jsonl(out)) == 6
    assert spy[0].estimate > 2.0, spy[0].estimate
