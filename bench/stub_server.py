"""A fast OpenAI-compatible stand-in for benchmarks (aiohttp, its own process).

    python bench/stub_server.py --port 0 --latency 0.2 [--rpm 600 [--window 10]] [--fail 0.3] [--log FILE]

Prints "PORT <n>" once listening. Replies are valid for Janus's instruct and conversation
schemas, and differ per request. With --rpm it enforces the limit with a token bucket (one second of burst), or
with --window a sliding window (at most rpm * window / 60 requests in any window seconds), and answers 429
with Retry-After and retry-after-ms. With --fail it answers that share of the requests it lets
through with a 500 (they count against the limit, as a provider's do). With --log it appends, per answered
request, "<unix time> <status> <request key>" where the key hashes the messages and the seed. With --dump
it writes the raw bodies of the first --dump-count requests to FILE, one a line (bench/throughput.py replays
them with a bare client).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import hashlib
import json
import math
import random
import time

from aiohttp import web

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


class Bucket:
    def __init__(self, per_minute: float):
        self.rate = per_minute / 60
        self.capacity = max(1.0, self.rate)  # one second of burst
        self.tokens = self.capacity
        self.updated = time.monotonic()

    def take(self) -> float:
        """0 if a request may pass, else seconds until one may."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class SlidingWindow:
    """At most ``rpm * window / 60`` requests in any ``window`` seconds."""

    def __init__(self, per_minute: float, window: float):
        self.window = window
        self.capacity = max(1, int(per_minute * window / 60))
        self.sent: collections.deque[float] = collections.deque()

    def take(self) -> float:
        """0 if a request may pass, else seconds until one may."""
        now = time.monotonic()
        while self.sent and self.sent[0] <= now - self.window:
            self.sent.popleft()
        if len(self.sent) < self.capacity:
            self.sent.append(now)
            return 0.0
        return self.sent[0] + self.window - now


def make_app(latency: float, rpm: float | None, log_path: str | None, fail: float = 0.0,
             window: float | None = None, dump: str | None = None, dump_count: int = 0) -> web.Application:
    bucket = (SlidingWindow(rpm, window) if window else Bucket(rpm)) if rpm else None
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
        if bucket is not None:
            wait = bucket.take()
            if wait > 0:
                counts["429"] += 1
                if log:
                    log.write(f"{time.time():.4f} 429 {key}\n")
                return web.json_response({"error": {"message": "rate limit", "type": "rate_limit"}}, status=429,
                                         headers={"Retry-After": str(math.ceil(wait)),
                                                  "retry-after-ms": str(int(wait * 1000) + 1)})
        await asyncio.sleep(latency)
        if fail and faults.random() < fail:
            counts["500"] += 1
            if log:
                log.write(f"{time.time():.4f} 500 {key}\n")
            return web.json_response({"error": {"message": "server error", "type": "server_error"}}, status=500)
        schema = json.dumps(body.get("response_format", {}))
        content = content_for(key, "turns" in schema)
        counts["ok"] += 1
        reply = {"id": "x", "object": "chat.completion", "created": 0, "model": body.get("model", "stub"),
                 "choices": [{"index": 0, "finish_reason": "stop",
                              "message": {"role": "assistant", "content": content}}],
                 "usage": {"prompt_tokens": 100, "completion_tokens": 30, "total_tokens": 130}}
        response = web.json_response(reply)
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
                window: float | None, dump: str | None = None, dump_count: int = 0) -> None:
    runner = web.AppRunner(make_app(latency, rpm, log_path, fail, window, dump, dump_count), access_log=None)
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
    parser.add_argument("--window", type=float, help="enforce --rpm over a sliding window of this many seconds")
    parser.add_argument("--log")
    parser.add_argument("--dump", help="write the raw bodies of the first --dump-count requests here")
    parser.add_argument("--dump-count", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.latency, args.rpm, args.log, args.fail, args.window, args.dump,
                      args.dump_count))


if __name__ == "__main__":
    main()
