"""A provider's rate-limit headers: OpenAI's, Anthropic's and the IETF draft's forms read into one shape,
hostile values bounded, and a run against a 127.0.0.1 provider paced by what its headers say."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from conftest import SAMPLES, fake_secret, read_jsonl
from servers import ProviderServer, compat_backends

from janus_core.sdk.rate_headers import MAX_RESET, Quota, RateHeaders, duration, parse_rate_headers

NOW = 1_800_000_000.0
SECRET = fake_secret("provider-key")
GOOD = json.dumps({"instruction": "Plan our weekly budget meeting", "response": "Start with one shared hour"})


@pytest.mark.parametrize(("text", "seconds"), [("1s", 1.0), ("6m0s", 360.0), ("20ms", 0.02), ("1h2m3.5s", 3723.5),
                                               ("0.5", 0.5), ("7", 7.0), ("", None), ("soon", None),
                                               ("1s2", None), ("-3s", None)])
def test_openai_durations(text, seconds):
    assert duration(text) == (pytest.approx(seconds) if seconds is not None else None)


def test_openai_headers_for_requests_and_tokens():
    limits = parse_rate_headers({"X-RateLimit-Limit-Requests": "500", "x-ratelimit-remaining-requests": "499",
                                 "x-ratelimit-reset-requests": "120ms", "x-ratelimit-limit-tokens": "30000",
                                 "x-ratelimit-remaining-tokens": "29000", "x-ratelimit-reset-tokens": "2s"})
    assert limits == RateHeaders(requests=Quota(remaining=499, reset=0.12, limit=500),
                                 tokens=Quota(remaining=29000, reset=2.0, limit=30000))
    assert limits.requests.steady == pytest.approx(500 / 60)  # stated per minute


def test_anthropic_headers_reset_at_a_time():
    at = datetime.fromtimestamp(NOW + 30, UTC).isoformat().replace("+00:00", "Z")
    headers = {"anthropic-ratelimit-requests-limit": "50", "anthropic-ratelimit-requests-remaining": "10",
               "anthropic-ratelimit-requests-reset": at, "anthropic-ratelimit-input-tokens-limit": "40000",
               "anthropic-ratelimit-input-tokens-remaining": "100", "anthropic-ratelimit-input-tokens-reset": at,
               "anthropic-ratelimit-output-tokens-limit": "8000",
               "anthropic-ratelimit-output-tokens-remaining": "7000", "anthropic-ratelimit-output-tokens-reset": at}
    limits = parse_rate_headers(headers, now=NOW)
    assert limits.requests == Quota(remaining=10, reset=pytest.approx(30), limit=50)
    assert limits.tokens.limit == 40000 and limits.tokens.remaining == 100  # the tighter of input and output


def test_ietf_draft_forms():
    # drafts 07-10: structured-field lists, policies named, a token policy by its quota unit
    limits = parse_rate_headers({"RateLimit-Policy": '"burst";q=100;w=10, "day";q=1000;w=86400, '
                                                     '"tok";q=5000;w=60;qu="tokens"',
                                 "RateLimit": '"burst";r=40;t=4, "day";r=900;t=3000, "tok";r=10;t=9'})
    # the daily policy binds: 900 left for 3,000 s is less a second than 40 for 4 s
    assert limits.requests == Quota(remaining=900, reset=3000, limit=1000, window=86400)
    assert limits.tokens == Quota(remaining=10, reset=9, limit=5000, window=60)
    assert limits.requests.steady == pytest.approx(1000 / 86400)
    # draft 06, and the separate fields of earlier drafts
    assert parse_rate_headers({"RateLimit": "limit=100, remaining=50, reset=30",
                               "RateLimit-Policy": "100;w=60"}).requests == Quota(50, 30, 100, 60)
    assert parse_rate_headers({"RateLimit-Limit": "10;w=1", "RateLimit-Remaining": "3",
                               "RateLimit-Reset": "1"}).requests == Quota(3, 1, 10, 1)
    # a unit the pace does not count
    assert parse_rate_headers({"RateLimit-Policy": '"b";q=1000;qu="content-bytes"', "RateLimit": '"b";r=0;t=5'}) is None


@pytest.mark.parametrize("headers", [
    {},
    {"content-type": "application/json"},
    {"x-ratelimit-remaining-requests": "inf", "x-ratelimit-reset-requests": "1s"},
    {"x-ratelimit-remaining-requests": "-5", "x-ratelimit-reset-requests": "1s"},
    {"x-ratelimit-remaining-requests": "nan", "x-ratelimit-reset-requests": "nan"},
    {"x-ratelimit-remaining-requests": "3", "x-ratelimit-reset-requests": "forever"},
    {"anthropic-ratelimit-requests-remaining": "3", "anthropic-ratelimit-requests-reset": "tomorrow"},
    {"RateLimit": '"x";r=;t=', "RateLimit-Policy": '"x";q=;w='},
])
def test_headers_that_state_nothing_usable_are_none(headers):
    assert parse_rate_headers(headers, now=NOW) is None


def test_hostile_values_are_bounded():
    limits = parse_rate_headers({"x-ratelimit-limit-requests": "10", "x-ratelimit-remaining-requests": "1e300",
                                 "x-ratelimit-reset-requests": "99999999h"})
    assert limits.requests.remaining == 10 and limits.requests.reset == MAX_RESET  # no more left than the limit
    limits = parse_rate_headers({"RateLimit": '"p";r=5;t=1e12', "RateLimit-Policy": '"p";q=5;w=1e12'})
    assert limits.requests.reset == MAX_RESET and limits.requests.steady < 1e-10
    past = datetime.fromtimestamp(NOW - 100, UTC).isoformat()
    limits = parse_rate_headers({"anthropic-ratelimit-requests-remaining": "2",
                                 "anthropic-ratelimit-requests-reset": past}, now=NOW)
    assert limits.requests.reset == 0.0


BACKENDS = compat_backends(SECRET)


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_a_run_is_paced_by_the_providers_headers(cli, tmp_path, backend):
    # no --rpm and no 429: the server says 60 requests a minute with none left, so the requests after the
    # first answer go about a second apart (unpaced, six would go at once)
    server = ProviderServer("openai", lambda body: GOOD)
    server.answer_headers = {"x-ratelimit-limit-requests": "60", "x-ratelimit-remaining-requests": "0",
                             "x-ratelimit-reset-requests": "59s"}
    args, env = BACKENDS[backend]
    out = tmp_path / "o.jsonl"
    with server:
        result = cli("generate", SAMPLES / "marriage_counsel_instruct",
                     *[a.format(url=server.base_url) for a in args], "--max-seeds", "5", "--d-factor", "0",
                     "--concurrency", "1", "--no-filters", "--out", out, "-q", env=env)
    assert result.exit_code == 0, result.output
    assert len(read_jsonl(out)) == 5
    # from the first answer on (the first request may reach the server late: litellm's start-up)
    gaps = [b - a for a, b in zip(server.times[1:], server.times[2:], strict=False)]
    assert len(gaps) == 3 and min(gaps) > 0.8, gaps  # 0.97 a second: never faster, however loaded the machine


def test_headers_with_nothing_left_hold_no_longer_than_a_retry_after_may():
    from janus_core.run.throttle import AdaptiveRate

    class Clock:
        now = 100.0

        def __call__(self):
            return self.now

    clock = Clock()
    rate = AdaptiveRate(clock=clock, max_pause=30.0)
    rate.start(clock.now)
    rate.answered(parse_rate_headers({"ratelimit-remaining": "0", "ratelimit-reset": "3000"}))
    assert rate.next_start(clock.now) == pytest.approx(130.0)  # not 3,000 s: --rate-limit-wait still rules
    rate.start(clock.now)
    rate.answered(parse_rate_headers({"ratelimit-remaining": "4", "ratelimit-reset": "2"}))
    assert rate.limit == pytest.approx(2.0)  # four left for two seconds
