"""A fast OpenAI-compatible stand-in for benchmarks (aiohttp, its own process).

    python bench/stub_server.py --port 0 --latency 0.2 [--rpm 600 [--tpm 39000] [--shape sliding-60]
                                [--headers openai]] [--fail 0.3] [--log FILE]

Prints "PORT <n>" once listening. Replies are valid for Janus's instruct and conversation
schemas, and differ per request. With --rpm (and --tpm) it enforces the limits with a limiter of --shape
(bench/limiters.py: a sliding 60-second log, a window reset on the minute, a token bucket, a sliding
10-second window), answers 429 with Retry-After and retry-after-ms, and with --headers states the limits
in OpenAI's, Anthropic's or the IETF draft's rate-limit headers. With --fail it answers that share of
the requests it lets through with a 500 (they count against the limit, as a provider's do). With --log it
appends, per answered request, "<unix time> <status> <request key>" where the key hashes the messages and
the seed. With --dump it writes the raw bodies of the first --dump-count requests to FILE, one a line
(bench/throughput.py replays them with a bare client).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import random
import time

from aiohttp import web
from limiters import SHAPES, rate_headers

#: the tokens every request costs and its usage reports
TOKENS = 130

#: Replies are drawn from these words by the request's key, so every request gets its own text and
#: Janus's filters (duplicates, no-change) run as on real replies without eliminating them.
VOCABULARY = """appointment booking clinic doctor patient invoice prescription refill schedule morning evening
monday tuesday wednesday thursday friday insurance payment reminder fever dosage paediatrics reception
slot urgent cancel move confirm desk phone walk-in bill private public renewal pharmacy ticket wait queue
visit checkup follow-up referral nurse allergy symptom question answer form record date time week month
""".split()


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(VOCABULARY) for _ in range(words)).capitalize() + "."


def content_for(key: str, conversation: bool) -> str:
    rng = random.Random(key)
    if conversation:
        return json.dumps({"turns": [{"user": _sentence(rng, 10), "assistant": _sentence(rng, 14)}]})
    return json.dumps({"instruction": _sentence(rng, 10), "response": _sentence(rng, 14)})


def make_app(latency: float, rpm: float | None, log_path: str | None, fail: float = 0.0,
             shape: str = "bucket", dump: str | None = None, dump_count: int = 0, tpm: float | None = None,
             headers: str | None = None, retry_after_ms: bool = True,
             count_rejected: bool = False) -> web.Application:
    requests = SHAPES[shape](rpm) if rpm else None
    tokens = SHAPES[shape](tpm) if tpm else None
    limiters = [(lim, cost) for lim, cost in ((requests, 1.0), (tokens, float(TOKENS))) if lim is not None]
    window = 10.0 if shape == "window-10" else 60.0

    def said(now: float) -> dict[str, str]:
        if not headers or not limiters:
            return {}
        return rate_headers(headers, requests.state(now) if requests else None,
                            tokens.state(now) if tokens else None, wall=now, window=window, per_minute=(rpm, tpm))

    faults = random.Random(0)
    log = open(log_path, "a", buffering=1) if log_path else None  # noqa: SIM115 - lives as long as the app
    counts = {"ok": 0, "429": 0, "500": 0}

    dumped = open(dump, "wb") if dump else None  # noqa: SIM115 - lives as long as the app
    left = [dump_count]

    async def chat(request: web.Request) -> web.Response:
        if dumped is not None and left[0] > 0:
            left[0] -= 1
            dumped.write((await request.read()).replace(b"\n", b" ") + b"\n")
            if left[0] == 0:
                dumped.close()
        body = await request.json()
        key = hashlib.sha256((json.dumps(body.get("messages")) + str(body.get("seed"))).encode()).hexdigest()[:20]
        now = time.time()
        wait = max((lim.wait(now, cost) for lim, cost in limiters), default=0.0)
        if wait > 0:
            if count_rejected:  # the request still takes a slot of the limit, as some providers count
                for lim, cost in limiters:
                    lim.add(now, cost)
            counts["429"] += 1
            if log:
                log.write(f"{now:.4f} 429 {key}\n")
            hint = {"Retry-After": str(math.ceil(wait))}
            if retry_after_ms:
                hint["retry-after-ms"] = str(int(wait * 1000) + 1)
            return web.json_response({"error": {"message": "rate limit", "type": "rate_limit"}}, status=429,
                                     headers={**hint, **said(now)})
        for lim, cost in limiters:
            lim.add(now, cost)
        stated = said(now)
        await asyncio.sleep(latency)
        if fail and faults.random() < fail:
            counts["500"] += 1
            if log:
                log.write(f"{time.time():.4f} 500 {key}\n")
            return web.json_response({"error": {"message": "server error", "type": "server_error"}}, status=500,
                                     headers=stated)
        schema = json.dumps(body.get("response_format", {}))
        content = content_for(key, "turns" in schema)
        counts["ok"] += 1
        reply = {"id": "x", "object": "chat.completion", "created": 0, "model": body.get("model", "stub"),
                 "choices": [{"index": 0, "finish_reason": "stop",
                              "message": {"role": "assistant", "content": content}}],
                 "usage": {"prompt_tokens": TOKENS - 30, "completion_tokens": 30, "total_tokens": TOKENS}}
        response = web.json_response(reply, headers=stated)
        if log:
            log.write(f"{time.time():.4f} 200 {key}\n")
        return response

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(counts)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/stats", stats)
    return app


async def serve(port: int, latency: float, rpm: float | None, log_path: str | None, fail: float,
                shape: str, dump: str | None = None, dump_count: int = 0, tpm: float | None = None,
                headers: str | None = None, retry_after_ms: bool = True, count_rejected: bool = False) -> None:
    runner = web.AppRunner(make_app(latency, rpm, log_path, fail, shape, dump, dump_count, tpm, headers,
                                    retry_after_ms, count_rejected), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=4096)
    await site.start()
    print(f"PORT {site._server.sockets[0].getsockname()[1]}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--rpm", type=float)
    parser.add_argument("--fail", type=float, default=0.0, help="share of admitted requests answered 500")
    parser.add_argument("--tpm", type=float, help="also enforce this many tokens a minute (each request costs "
                        f"{TOKENS}, what its usage reports)")
    parser.add_argument("--shape", choices=sorted(SHAPES), default="bucket",
                        help="the limiter enforcing --rpm and --tpm (see bench/limiters.py)")
    parser.add_argument("--headers", choices=["openai", "anthropic", "ietf"],
                        help="state the limits in this provider's rate-limit headers on every answer")
    parser.add_argument("--whole-seconds", action="store_true",
                        help="say Retry-After in whole seconds only (no retry-after-ms), as most providers do")
    parser.add_argument("--count-rejected", action="store_true",
                        help="a request answered 429 still counts against the limit")
    parser.add_argument("--log")
    parser.add_argument("--dump", help="write the raw bodies of the first --dump-count requests here")
    parser.add_argument("--dump-count", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.latency, args.rpm, args.log, args.fail, args.shape, args.dump,
                      args.dump_count, args.tpm, args.headers, not args.whole_seconds,
                      args.count_rejected))


if __name__ == "__main__":
    main()
