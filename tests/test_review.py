"""janus review: the journal's reviews, the HTTP API, export --reviewed, and the page in a real browser."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT, read_jsonl, run_janus

from janus_core.run.journal import Journal, journal_path
from janus_core.sdk.errors import JanusError
from janus_core.sdk.records import Record, record_id
from janus_core.spec.model import load_spec

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IDS = [record_id(f"fixture|{i}") for i in range(6)]
#: (output type, direction, depth, judge score or None, walk entities, walk relationships)
SHAPES = [
    ("conversation", "general", 0, 4.5, ["COUNSELOR", "COUNSELEE"], ["COUNSELOR->COUNSELEE#0"]),
    ("conversation", "general", 0, 2.0, ["COUNSELEE", "SESSION"], ["COUNSELEE->SESSION#1"]),
    ("conversation", "in-depth", 1, 3.5, ["COUNSELOR", "COUNSELEE"], ["COUNSELOR->COUNSELEE#0"]),
    ("instruct", "general", 0, None, ["SESSION", "HOMEWORK"], ["SESSION->HOMEWORK#2"]),
    ("instruct", "in-depth", 1, 5.0, ["SESSION", "HOMEWORK"], ["SESSION->HOMEWORK#2"]),
    ("conversation", "diverse", 2, None, ["COUNSELEE", "SESSION"], ["COUNSELEE->SESSION#1"]),
]


def need(*modules: str, chromium: bool = False) -> None:
    """Skip (fail under CI) when what a test needs is not installed, saying how to install it."""
    import importlib.util

    hints = {"playwright": "pip install playwright", "starlette": "pip install 'janus-data[review]'",
             "uvicorn": "pip install 'janus-data[review]'"}
    missing = [hints[m] for m in modules if importlib.util.find_spec(m) is None]
    if chromium and not CHROMIUM.exists():
        missing.append("apt-get install chromium (Debian's package, at /usr/bin/chromium)")
    if missing:
        message = "needs " + " and ".join(dict.fromkeys(missing))
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(f"{message} (CI must run this test)")
        pytest.skip(message)


def make_dataset(folder: Path) -> Path:
    """Six records of a counselling run, written as generate writes them, and one failure."""
    out = folder / "counsel.jsonl"
    journal = Journal(journal_path(out))
    for i, (output_type, direction, depth, score, entities, links) in enumerate(SHAPES):
        meta = {}
        if score is not None:
            meta["judge"] = {"score": score, "rubrics": {
                "helpfulness": {"score": round(score), "feedback": f"answer {i} is on topic"},
                "safety": {"score": 5, "feedback": "nothing harmful"}}}
        record = Record(
            messages=[{"role": "system", "content": "You are a warm counselor."},
                      {"role": "user", "content": f"Question {i}: we argue about chores every week."},
                      {"role": "assistant", "content": f"Answer {i}: try a shared weekly plan."}],
            id=IDS[i], seed_id=IDS[0] if depth else IDS[i], parent_id=IDS[0] if depth else None,
            direction=direction, walk={"id": f"walk:{i}", "strategy": "relationship", "entities": entities,
                                       "relationships": links},
            model="test-model", prompt_sha256="0" * 64, output_type=output_type, depth=depth,
            usage={"tokens_in": 100, "tokens_out": 40, "cost": 0.0}, meta=meta)
        journal.add_record(f"job|{i}", record)
    journal.add_failure("job|9", "schema", "the reply was not JSON", {"key": "job|9", "kind": "seed"})
    journal.export_jsonl(out)
    journal.close()
    return out


# --- the journal and the data behind the API ----------------------------------------------------

def test_reviews_are_stored_at_once_and_survive_reopening(tmp_path):
    out = make_dataset(tmp_path)
    journal = Journal(journal_path(out))
    journal.set_review(IDS[0], "kept")
    journal.set_review(IDS[1], "edited", [{"role": "user", "content": "x"}])
    journal.set_review(IDS[2], "discarded")
    journal.set_review(IDS[2], None)
    with pytest.raises(ValueError):
        journal.set_review(IDS[3], "maybe")
    with pytest.raises(ValueError):
        journal.set_review(IDS[3], "kept", [{"role": "user", "content": "x"}])
    # another connection (another process) sees every decision without a close
    other = Journal(journal_path(out))
    assert {k: v["state"] for k, v in other.reviews().items()} == {IDS[0]: "kept", IDS[1]: "edited"}
    assert other.review_for(IDS[1])["messages"] == [{"role": "user", "content": "x"}]
    assert other.review_for(IDS[2]) is None
    other.close()
    journal.close()


def test_a_plain_jsonl_file_gets_a_journal_that_generate_will_not_continue(tmp_path):
    from janus_plugins.review.app import ReviewData

    from janus_core.run.session import open_journal

    plain = tmp_path / "plain.jsonl"
    plain.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant",
                                                                                   "content": "hello"}]})
                     + "\n" + json.dumps({"messages": [{"role": "user", "content": "bye"}], "id": "b1",
                                          "direction": "general"}) + "\n", encoding="utf-8")
    data = ReviewData(plain)
    assert len(data.records) == 2 and data.records[1]["id"] == "b1"
    assert data.records[0]["output_type"] == "?"
    data.decide("b1", "kept")
    data.close()
    assert journal_path(plain).exists()
    with pytest.raises(JanusError, match="different spec"):
        open_journal(plain, "a real run's fingerprint", overwrite=False)
    # records appended to the file later are picked up; decisions stay
    with plain.open("a", encoding="utf-8") as f:
        f.write(json.dumps({"messages": [{"role": "user", "content": "new"}], "id": "c1"}) + "\n")
    data = ReviewData(plain)
    assert [r["id"] for r in data.records][1:] == ["b1", "c1"] and data.state("b1") == "kept"
    data.close()


def test_a_file_that_is_not_records_is_refused_without_leaving_a_journal(tmp_path):
    from janus_plugins.review.app import ReviewData

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "no messages"}\n', encoding="utf-8")
    with pytest.raises(JanusError, match=r"bad.jsonl:1:1: not a record Janus can read"):
        ReviewData(bad)
    assert not journal_path(bad).exists()


# --- the HTTP API ----------------------------------------------------------------------------------

TOKEN = "test-token-" + "x" * 32


def review_client(data, **options):
    """A test client of the review app over ``data`` that sends the token with every request."""
    from janus_plugins.review.app import create_app
    from starlette.testclient import TestClient

    client = TestClient(create_app(data, token=TOKEN, **options), base_url="http://127.0.0.1")
    client.headers["X-Janus-Token"] = TOKEN
    return client


@pytest.fixture
def api(tmp_path):
    need("starlette")
    from janus_plugins.review.app import ReviewData

    out = make_dataset(tmp_path)
    data = ReviewData(out)
    with review_client(data) as client:
        client.out = out
        yield client
    data.close()


def post(client, rid: str, state: str | None, messages=None):
    return client.post(f"/api/records/{rid}/review", json={"state": state, "messages": messages})


def test_api_serves_the_page_summary_and_records(api):
    page = api.get("/")
    assert page.status_code == 200 and 'id="chat"' in page.text and "<script>" in page.text
    assert "://" not in page.text  # nothing fetched from elsewhere: works offline
    summary = api.get("/api/summary").json()
    assert (summary["total"], summary["left"], summary["kept"], summary["failures"]) == (6, 6, 0, 1)
    assert summary["facets"] == {"output_type": ["conversation", "instruct"],
                                 "direction": ["diverse", "general", "in-depth"], "depth": ["0", "1", "2"]}
    assert api.get("/api/records").json()["ids"] == IDS
    detail = api.get(f"/api/records/{IDS[2]}").json()
    assert detail["record"]["meta"]["judge"]["score"] == 3.5 and detail["review"] is None
    assert (detail["position"], detail["total"]) == (3, 6)
    assert api.get("/api/records/nope").status_code == 404
    assert api.get("/api/failures").json()["failures"][0]["reason"] == "schema"


def test_api_filters(api):
    def ids(**params):
        return api.get("/api/records", params=params).json()["ids"]

    assert ids(output_type="instruct") == IDS[3:5]
    assert ids(direction="in-depth") == [IDS[2], IDS[4]]
    assert ids(depth="0") == [IDS[0], IDS[1], IDS[3]]
    assert ids(min_score="3", max_score="4.5") == [IDS[0], IDS[2]]  # records without a score are left out
    assert ids(min_score="4.6") == [IDS[4]]
    assert ids(output_type="conversation", direction="general", max_score="3") == [IDS[1]]
    assert api.get("/api/records", params={"min_score": "high"}).status_code == 400
    post(api, IDS[1], "discarded")
    assert ids(state="discarded") == [IDS[1]]
    assert ids(state="unreviewed") == [i for i in IDS if i != IDS[1]]


def test_api_decisions_summary_and_coverage(api):
    from janus_plugins.review.app import ReviewData

    kept = post(api, IDS[0], "kept").json()
    assert kept["review"]["state"] == "kept" and kept["summary"]["kept"] == 1 and kept["summary"]["left"] == 5
    edit = [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A better answer."}]
    body = post(api, IDS[3], "edited", edit).json()
    assert body["review"]["messages"] == edit
    summary = post(api, IDS[1], "discarded").json()["summary"]
    assert (summary["kept"], summary["edited"], summary["discarded"], summary["left"]) == (1, 1, 1, 3)
    entities = {r["name"]: (r["records"], r["kept"]) for r in summary["coverage"]["entities"]}
    assert entities == {"COUNSELOR": (2, 1), "COUNSELEE": (4, 1), "SESSION": (4, 1), "HOMEWORK": (2, 1)}
    links = {r["name"]: r["kept"] for r in summary["coverage"]["relationships"]}
    assert links == {"COUNSELOR->COUNSELEE#0": 1, "COUNSELEE->SESSION#1": 0, "SESSION->HOMEWORK#2": 1}
    # clearing a decision, then bad requests
    assert post(api, IDS[0], None).json()["summary"]["kept"] == 0
    assert post(api, IDS[2], "maybe").status_code == 400
    assert post(api, IDS[2], "edited").status_code == 400  # an edit needs messages
    assert post(api, IDS[2], "edited", [{"role": "user", "content": None}]).status_code == 400
    assert post(api, IDS[2], "edited", []).status_code == 400
    assert post(api, "nope", "kept").status_code == 404
    form = api.post(f"/api/records/{IDS[2]}/review", content='{"state": "kept"}',
                    headers={"content-type": "text/plain"})
    assert form.status_code == 415  # no cross-site form posts
    assert api.get("/api/summary", headers={"host": "attacker.example"}).status_code == 400
    # everything is in the journal already: a second reader sees it
    again = ReviewData(api.out)
    assert {k: v["state"] for k, v in again.reviews.items()} == {IDS[3]: "edited", IDS[1]: "discarded"}
    again.close()


def test_coverage_lists_what_no_record_visits_when_the_spec_is_known(tmp_path):
    from janus_plugins.review.app import ReviewData

    out = make_dataset(tmp_path)
    journal = Journal(journal_path(out))
    journal.set_meta("spec", {"name": "coding_assist", "folder": str(ROOT / "samples" / "coding_assist")})
    journal.close()
    data = ReviewData(out)
    try:
        entities = {r["name"]: r["records"] for r in data.summary()["coverage"]["entities"]}
    finally:
        data.close()
    assert entities["COUNSELEE"] == 4  # visited by the records
    diagram = set(load_spec(ROOT / "samples" / "coding_assist").diagram.entities)
    assert diagram <= set(entities) and all(entities[name] == 0 for name in diagram - {"COUNSELEE", "COUNSELOR"})


def test_api_takes_ids_with_any_character(tmp_path):
    need("starlette")
    from janus_plugins.review.app import ReviewData

    plain = tmp_path / "odd.jsonl"
    odd = "chats/2024 #7?x=1"
    plain.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}], "id": odd}) + "\n",
                     encoding="utf-8")
    data = ReviewData(plain)
    quoted = urllib.parse.quote(odd, safe="")
    with review_client(data) as client:
        assert client.get(f"/api/records/{quoted}").json()["record"]["id"] == odd
        assert post(client, quoted, "kept").json()["review"]["state"] == "kept"
    data.close()


def test_api_find_by_id_prefix(api):
    assert api.get("/api/find", params={"q": IDS[4]}).json()["id"] == IDS[4]
    assert api.get("/api/find", params={"q": IDS[4][:10]}).json()["id"] == IDS[4]
    missing = api.get("/api/find", params={"q": "zzz"})
    assert missing.status_code == 404 and "no record id starts with" in missing.json()["error"]


# --- who may use the page, and how much a request may send -------------------------------------------

def test_every_request_needs_the_token(tmp_path):
    need("starlette")
    from janus_plugins.review.app import ReviewData, create_app
    from starlette.testclient import TestClient

    data = ReviewData(make_dataset(tmp_path))
    try:
        with TestClient(create_app(data, token=TOKEN), base_url="http://127.0.0.1") as anyone:
            for path in ("/", "/api/summary", f"/api/records/{IDS[0]}", "/api/failures"):
                refused = anyone.get(path)
                assert refused.status_code == 403, path
                assert "token" in refused.text and "Answer 0" not in refused.text
            assert anyone.get("/api/summary", params={"token": "wrong"}).status_code == 403
            assert anyone.get("/api/summary", headers={"X-Janus-Token": TOKEN[:-1]}).status_code == 403
            assert post(anyone, IDS[0], "kept").status_code == 403
            anyone.cookies.set("janus_review_80", "wrong")
            assert anyone.get("/").status_code == 403
            anyone.cookies.clear()
            # the address janus review prints: the first load sets the cookie and drops the token from the URL
            first = anyone.get("/", params={"token": TOKEN}, follow_redirects=False)
            assert first.status_code == 303 and first.headers["location"] == "/"
            cookie = first.headers["set-cookie"]
            assert cookie.startswith(f"janus_review_80={TOKEN};")
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
            page = anyone.get("/")  # the client kept the cookie, as a browser does
            assert page.status_code == 200 and 'id="chat"' in page.text
            assert anyone.get("/api/summary").json()["total"] == 6
            assert post(anyone, IDS[0], "kept").json()["summary"]["kept"] == 1
        # a script sends the header
        with TestClient(create_app(data, token=TOKEN), base_url="http://127.0.0.1") as script:
            assert script.get("/api/summary", headers={"X-Janus-Token": TOKEN}).json()["kept"] == 1
    finally:
        data.close()
    assert Journal(journal_path(tmp_path / "counsel.jsonl")).reviews().keys() == {IDS[0]}


def test_a_request_body_over_the_limit_is_answered_413_and_not_stored(tmp_path):
    need("starlette")
    from janus_plugins.review.access import MAX_REQUEST_BYTES
    from janus_plugins.review.app import ReviewData

    assert MAX_REQUEST_BYTES == 1_000_000
    data = ReviewData(make_dataset(tmp_path))
    try:
        with review_client(data) as api:
            big = [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "x" * (MAX_REQUEST_BYTES + 1)}]
            refused = post(api, IDS[0], "edited", big)
            assert refused.status_code == 413 and "1,000,000 bytes" in refused.json()["error"]
            under = [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "y" * 900_000}]
            assert post(api, IDS[1], "edited", under).status_code == 200
        with review_client(data, max_request_bytes=2_000) as api:
            body = json.dumps({"state": "edited", "messages": [{"role": "assistant", "content": "z" * 3000}]})
            assert api.post(f"/api/records/{IDS[2]}/review", content=body,
                            headers={"content-type": "application/json"}).status_code == 413
            # without a Content-Length (chunked): read up to the limit, then refused
            parts = iter([body[:1500].encode(), body[1500:].encode()])
            chunked = api.post(f"/api/records/{IDS[2]}/review", content=parts,
                               headers={"content-type": "application/json"})
            assert chunked.status_code == 413
            assert post(api, IDS[3], "kept").status_code == 200
        assert data.state(IDS[0]) is None and data.state(IDS[2]) is None
    finally:
        data.close()


def test_the_served_page_refuses_strangers_and_huge_bodies_fast(server):
    url, out = server
    base, token = url.split("?token=")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(base + "api/summary", timeout=10)
    assert refused.value.code == 403
    # a body announced as 300 MB is refused from its headers, before any of it is sent
    port = int(base.rsplit(":", 1)[1].strip("/"))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall((f"POST /api/records/{IDS[0]}/review HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                      f"X-Janus-Token: {token}\r\nContent-Type: application/json\r\n"
                      "Content-Length: 300000000\r\n\r\n{").encode())
        reply = sock.recv(4096).decode("latin-1")
    assert reply.startswith("HTTP/1.1 413"), reply
    journal = Journal(journal_path(out))
    assert journal.reviews() == {}
    journal.close()


# --- export --reviewed -----------------------------------------------------------------------------

def test_export_reviewed_writes_kept_and_edited_records(cli, tmp_path):
    out = make_dataset(tmp_path)
    journal = Journal(journal_path(out))
    edit = [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A better answer."}]
    journal.set_review(IDS[0], "kept")
    journal.set_review(IDS[1], "discarded")
    journal.set_review(IDS[4], "edited", edit)
    journal.close()
    result = cli("export", out, "--reviewed", "--to", tmp_path / "r.jsonl", "--format", "janus")
    assert result.exit_code == 0, result.output
    assert "2 rows" in result.output
    rows = read_jsonl(tmp_path / "r.jsonl")
    assert [r["id"] for r in rows] == [IDS[0], IDS[4]]
    assert rows[0]["messages"][2]["content"] == "Answer 0: try a shared weekly plan."
    assert "review" not in rows[0]["meta"]
    assert rows[1]["messages"] == edit and rows[1]["meta"]["review"] == "edited"
    assert rows[1]["meta"]["judge"]["score"] == 5.0  # the rest of the record is kept
    assert cli("export", out, "--reviewed", "--to", tmp_path / "m.jsonl").exit_code == 0
    assert read_jsonl(tmp_path / "m.jsonl")[1] == {"messages": edit}
    # without --reviewed every record is written, as before
    assert cli("export", out, "--to", tmp_path / "all.jsonl").exit_code == 0
    assert len(read_jsonl(tmp_path / "all.jsonl")) == 6


def test_export_reviewed_refuses_without_a_review(cli, tmp_path):
    out = make_dataset(tmp_path)
    result = cli("export", out, "--reviewed", "--to", tmp_path / "r.jsonl")
    assert result.exit_code == 1 and "no record of" in result.output and "janus review" in result.output
    assert not (tmp_path / "r.jsonl").exists()
    plain = tmp_path / "plain.jsonl"
    plain.write_text(out.read_text(encoding="utf-8"), encoding="utf-8")
    result = cli("export", plain, "--reviewed", "--to", tmp_path / "p.jsonl")
    assert result.exit_code == 1 and "has no journal" in result.output


def test_review_without_the_extra_says_how_to_install(tmp_path):
    code = ("import sys; sys.modules['uvicorn'] = None\n"
            "from janus_core.cli import cli\n"
            f"cli(['review', {str(make_dataset(tmp_path))!r}, '--port', '0'], prog_name='janus')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "pip install 'janus-data[review]'" in result.stderr


# --- the page in a browser -------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def announced_url(proc: subprocess.Popen, seconds: float = 30) -> str:
    """The address ``janus review`` prints on stderr (with its token), once it prints it."""
    import re
    import selectors

    selector = selectors.DefaultSelector()
    selector.register(proc.stderr, selectors.EVENT_READ)
    deadline, seen = time.monotonic() + seconds, ""
    while time.monotonic() < deadline:
        if selector.select(timeout=0.5):
            line = proc.stderr.readline()
            seen += line
            found = re.search(r"http://127\.0\.0\.1:\d+/\?token=[\w-]+", line)
            if found:
                return found.group(0)
            if not line:  # the process ended
                break
    proc.kill()
    pytest.fail(f"janus review printed no address within {seconds} s: {seen}")


@pytest.fixture
def server(tmp_path):
    """``janus review OUT`` in a subprocess, as a user starts it; yields (url with its token, out)."""
    need("starlette", "uvicorn")
    out = make_dataset(tmp_path)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "janus_core.cli", "review", str(out), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = announced_url(proc)
    assert url.startswith(f"http://127.0.0.1:{port}/?token=")
    token = url.partition("?token=")[2]
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            pytest.fail(f"janus review exited with {proc.returncode}: {proc.stderr.read()}")
        try:
            ask = urllib.request.Request(f"http://127.0.0.1:{port}/api/summary", headers={"X-Janus-Token": token})
            with urllib.request.urlopen(ask, timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                pytest.fail("janus review did not answer within 30 s")
            time.sleep(0.1)
    yield url, out
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_review_in_a_browser(server, tmp_path):
    need("playwright", chromium=True)
    from playwright.sync_api import expect, sync_playwright

    url, out = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(url)
            badge, where, chat = page.locator("#state-badge"), page.locator("#where"), page.locator("#chat")
            expect(where).to_have_text("1 of 6")
            expect(chat.locator(".bubble.user")).to_contain_text("Question 0")
            expect(page.locator("#prov")).to_contain_text("COUNSELOR->COUNSELEE#0")
            expect(page.locator("#judge")).to_contain_text("4.50 / 5")
            expect(page.locator("#judge")).to_contain_text("answer 0 is on topic")

            # keyboard only: keep the first record (moves on), discard the second, back and forth
            page.keyboard.press("k")
            expect(where).to_have_text("2 of 6")
            expect(page.locator("#n-kept")).to_have_text("1")
            page.keyboard.press("d")
            expect(where).to_have_text("3 of 6")
            page.keyboard.press("ArrowLeft")
            expect(where).to_have_text("2 of 6")
            expect(badge).to_have_text("discarded")
            page.keyboard.press("j")
            expect(where).to_have_text("3 of 6")
            page.keyboard.press("ArrowRight")
            expect(where).to_have_text("4 of 6")

            # edit the fourth record: Escape leaves edit mode without saving, Ctrl+Enter saves
            page.keyboard.press("e")
            expect(chat.locator("textarea")).to_have_count(3)
            page.keyboard.type(" Draft.")
            page.keyboard.press("Escape")
            expect(chat.locator("textarea")).to_have_count(0)
            expect(chat.locator(".bubble.assistant")).to_have_text("assistantAnswer 3: try a shared weekly plan.")
            page.keyboard.press("e")
            focused = page.locator("#chat textarea:focus")
            expect(focused).to_have_attribute("aria-label", "Edit assistant message 3")
            page.keyboard.press("Control+a")
            page.keyboard.type("A better answer, edited by hand.")
            page.keyboard.press("Control+Enter")
            expect(badge).to_have_text("edited")
            expect(chat.locator(".bubble.assistant")).to_contain_text("A better answer, edited by hand.")

            # jump by id with g, and with / to an id prefix
            page.keyboard.press("g")
            expect(page.locator("#jump-id")).to_be_focused()
            page.keyboard.type(IDS[5])
            page.keyboard.press("Enter")
            expect(where).to_have_text("6 of 6")
            page.keyboard.press("/")
            page.keyboard.type(IDS[1][:8])
            page.keyboard.press("Enter")
            expect(where).to_have_text("2 of 6")
            expect(badge).to_have_text("discarded")

            # a filter: only kept records
            page.select_option("select[name=state]", "kept")
            expect(page.locator("#matches")).to_have_text("1 of 6 records match")
            expect(where).to_have_text("1 of 1")
            page.select_option("select[name=state]", "")
            expect(page.locator("#matches")).to_have_text("6 of 6 records match")

            # focus is visible on the buttons (keyboard users see where they are)
            page.keyboard.press("Tab")
            outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
            assert outline == "solid"
            for button in page.locator("#actions button").all():
                assert button.get_attribute("aria-label")

            shot = tmp_path / "review.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
            expect(chat.locator(".bubble.system")).to_be_visible()
            expect(chat.locator(".bubble.user")).to_be_visible()
            expect(chat.locator(".bubble.assistant")).to_be_visible()

            # reload: every decision is still there, and the page comes back to the same record
            page.reload()
            expect(where).to_have_text("1 of 6")  # the filter moved to the one kept record
            expect(badge).to_have_text("kept")
            for name, count in (("kept", "1"), ("edited", "1"), ("discarded", "1"), ("left", "3")):
                expect(page.locator(f"#n-{name}")).to_have_text(count)
            expect(page.locator("#cov-short")).to_have_text("coverage: 4/4 entities, 2/3 relationships")
            page.keyboard.press("j")
            expect(badge).to_have_text("discarded")
            page.keyboard.press("g")
            page.keyboard.type(IDS[3])
            page.keyboard.press("Enter")
            expect(badge).to_have_text("edited")
            expect(chat.locator(".bubble.assistant")).to_have_text("assistantA better answer, edited by hand.")
            assert not errors, errors
        finally:
            browser.close()

    result = run_janus("export", out, "--reviewed", "--to", tmp_path / "x.jsonl", "--format", "janus")
    assert result.returncode == 0, result.stderr
    rows = read_jsonl(tmp_path / "x.jsonl")
    assert [r["id"] for r in rows] == [IDS[0], IDS[3]]
    assert rows[0]["messages"][2]["content"] == "Answer 0: try a shared weekly plan."
    assert rows[1]["messages"][2] == {"role": "assistant", "content": "A better answer, edited by hand."}
    assert rows[1]["messages"][:2] == [{"role": "system", "content": "You are a warm counselor."},
                                       {"role": "user", "content": "Question 3: we argue about chores every week."}]
    assert rows[1]["meta"]["review"] == "edited"
