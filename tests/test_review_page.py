"""The review page on long and evolved records: actions that stay in view, turns inherited from the
parent marked, and the walk in plain words."""

from __future__ import annotations

import subprocess
import sys

import pytest
from test_review import (
    CHROMIUM,
    CHROMIUM_ARGS,
    IDS,
    announced_url,
    free_port,
    make_dataset,
    need,
    review_client,
)

from janus_core.run.journal import Journal, journal_path
from janus_core.sdk.records import Record, record_id

LONG_ID = record_id("fixture|long")
TURNS = 30


def add_long_evolution(out):
    """A record evolved from the first one: its parent's three messages, then TURNS more exchanges."""
    journal = Journal(journal_path(out))
    parent = next(r for r in journal.records() if r["id"] == IDS[0])
    more = [m for i in range(TURNS) for m in ({"role": "user", "content": f"Follow-up {i}: and on Sundays?"},
                                              {"role": "assistant", "content": f"Reply {i}: " + "plan " * 40})]
    journal.add_record("job|long", Record(
        messages=parent["messages"] + more, id=LONG_ID, seed_id=IDS[0], parent_id=IDS[0], direction="in-depth",
        walk=parent["walk"] | {"id": "relationship:COUNSELOR->COUNSELEE#0"}, model="test-model",
        prompt_sha256="0" * 64, output_type="conversation", depth=1, usage={}, meta={}))
    journal.export_jsonl(out)
    journal.close()


def test_walk_in_plain_words():
    from janus_plugins.review.app import describe_walk

    assert describe_walk({"id": "relationship:COUNSELOR->COUNSELEE#0", "strategy": "relationship",
                          "entities": ["COUNSELOR", "COUNSELEE"], "relationships": ["COUNSELOR->COUNSELEE#0"]}) \
        == "the relationship COUNSELOR → COUNSELEE"
    assert describe_walk({"id": "neighbourhood:SESSION", "strategy": "neighbourhood",
                          "entities": ["SESSION", "COUNSELEE", "HOMEWORK"]}) \
        == "the neighbourhood of SESSION: its links to COUNSELEE and HOMEWORK"
    assert describe_walk({"id": "path:A>B>C", "strategy": "path", "entities": ["A", "B", "C"]}) \
        == "a path through A → B → C"
    assert describe_walk({"id": "input:chats.jsonl:3", "strategy": "input", "entities": []}) \
        == "a conversation from the input file (chats.jsonl:3)"
    assert describe_walk(None) == ""


def test_api_says_how_many_messages_were_inherited_and_the_walk(tmp_path):
    need("starlette")
    from janus_plugins.review.app import ReviewData

    out = make_dataset(tmp_path)
    add_long_evolution(out)
    data = ReviewData(out)
    try:
        with review_client(data) as client:
            long = client.get(f"/api/records/{LONG_ID}").json()
            seed = client.get(f"/api/records/{IDS[0]}").json()
            rewritten = client.get(f"/api/records/{IDS[2]}").json()  # an evolution with other messages
    finally:
        data.close()
    assert long["inherited"] == 3 and seed["inherited"] == 0 and rewritten["inherited"] == 0
    assert long["walk_text"] == "the relationship COUNSELOR → COUNSELEE"
    assert "relationship:" not in seed["walk_text"]


@pytest.fixture
def long_server(tmp_path):
    need("starlette", "uvicorn")
    out = make_dataset(tmp_path)
    add_long_evolution(out)
    proc = subprocess.Popen([sys.executable, "-m", "janus_core.cli", "review", str(out), "--port", str(free_port())],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield announced_url(proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_long_evolved_record_in_a_browser(long_server):
    need("playwright", chromium=True)
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(long_server)
            expect(page.locator("#where")).to_have_text("1 of 7")
            page.keyboard.press("g")
            page.keyboard.type(LONG_ID)
            page.keyboard.press("Enter")
            expect(page.locator("#where")).to_have_text("7 of 7")
            chat = page.locator("#chat")
            expect(chat.locator(".bubble")).to_have_count(3 + 2 * TURNS)
            # the parent's user and assistant turns are marked; the system message and the new turns are not
            expect(chat.locator(".bubble.inherited")).to_have_count(2)
            expect(chat.locator(".bubble.inherited").first).to_contain_text("from the parent record")
            expect(chat.locator(".bubble.system.inherited")).to_have_count(0)
            expect(page.locator("#prov")).to_contain_text("the relationship COUNSELOR → COUNSELEE")
            expect(page.locator("#prov")).not_to_contain_text("relationship: relationship:")

            height = page.evaluate("window.innerHeight")
            assert page.evaluate("document.documentElement.scrollHeight") > 2 * height  # a long page
            for scroll in (0, 1500):
                page.evaluate(f"window.scrollTo(0, {scroll})")
                for button in ("#keep-btn", "#discard-btn"):
                    box = page.locator(button).bounding_box()
                    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height, (button, box)
            page.locator("#keep-btn").click()  # clickable where it is, over the conversation
            expect(page.locator("#n-kept")).to_have_text("1")
        finally:
            browser.close()

