"""Turn-by-turn records carry their walk: every prompt holds its part of the brief, turns in the wrong
voice or asking nothing are asked again, and the spec's system prompt stays the assistant's."""

from __future__ import annotations

import random
import re
from pathlib import Path

from conftest import fake_secret, read_jsonl, run_janus
from servers import OpenAICompatibleServer, chat_completion

from janus_core.data import grounding
from janus_core.plan.brief import choices, make_brief
from janus_core.plan.graph import build_graph, edge_label, facts_of, seed_contexts
from janus_core.sdk.contracts import Direction
from janus_core.spec.model import load_spec

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "bench" / "specs" / "library_desk"
SECRET = fake_secret("openai-key")

SETUP = """\
description: The help desk of Millbrook Public Library, where members ask a librarian about their loans.
user_role: MEMBER
assistant_role: LIBRARIAN
output_type: conversation
generation: turns
system_prompt: You are a librarian at Millbrook Public Library.
seed_directions: [general]
derivational_directions: [the member has lost a book and is worried about the cost]
limits: {{turns: 2, message_chars: 400}}
model: {{backend: openai, name: stand-in, options: {{base_url: "{url}"}}}}
"""


def library(tmp_path: Path, url: str) -> Path:
    spec = tmp_path / "library"
    spec.mkdir()
    (spec / "setup.yaml").write_text(SETUP.format(url=url))
    (spec / "diagram.mermaid").write_text((LIBRARY / "diagram.mermaid").read_text())
    return spec


def _need(prompt: str) -> str:
    return re.search(r"You want to find out about (.+?)\.\nMessage:", prompt).group(1)


def answer_from_facts(body):
    """The user simulator asks about its need; the assistant repeats the first fact it was given."""
    last = body["messages"][-1]["content"]
    if last.endswith("Message:"):
        return 200, chat_completion(f"Hello, I am a member here. What about {_need(last)}?"), {}
    facts = re.findall(r"^- (.+)$", last, re.M)
    return 200, chat_completion(f"Here is the rule: {facts[0]} Ask me if anything is unclear."), {}


def test_every_turn_prompt_carries_its_part_of_the_walk(tmp_path):
    with OpenAICompatibleServer(answer_from_facts) as server:
        spec = library(tmp_path, server.base_url)
        out = tmp_path / "o.jsonl"
        result = run_janus("generate", spec, "--out", out, "--no-filters", "-q", env={"OPENAI_API_KEY": SECRET})
    assert result.returncode == 0, result.stderr
    loaded = load_spec(spec)
    graph = build_graph(loaded.diagram)
    every_fact = {f.text for c in seed_contexts(loaded) for f in c.facts}
    users = [b for b in server.requests if b["messages"][-1]["content"].endswith("Message:")]
    assistants = [b for b in server.requests if b not in users]
    assert users and assistants
    for body in users:
        prompt = body["messages"][-1]["content"]
        assert prompt.startswith("Situation: The help desk of Millbrook Public Library")
        assert "You are a member (category: " in prompt  # a trait drawn from the member's attributes
        assert _need(prompt)
    derived_prompts = [b["messages"][-1]["content"] for b in users if "worried about the cost" in
                       b["messages"][-1]["content"]]
    assert derived_prompts  # the free-text direction is the user's situation
    for body in assistants:
        assert body["messages"][0]["role"] == "system"
        assert body["messages"][0]["content"].startswith("You are a librarian at Millbrook Public Library.")
        facts = re.findall(r"^- (.+)$", body["messages"][-1]["content"], re.M)
        assert facts and set(facts) <= every_fact
    labels = {edge_label(e): e for e in graph.edges(keys=True)}
    known = grounding.setup_terms(loaded.setup)
    records = read_jsonl(out)
    assert records
    for r in records:
        # the record keeps the spec's system prompt, not the prompt's facts or examples
        assert r["messages"][0] == {"role": "system", "content": "You are a librarian at Millbrook Public Library."}
        assert not any("Facts:" in m["content"] or "Message:" in m["content"] for m in r["messages"])
        entities = tuple(r["walk"]["entities"])
        edges = tuple(labels[x] for x in r["walk"]["relationships"])
        text = " ".join(m["content"] for m in r["messages"][1:])
        assert grounding.facts_used(text, facts_of(graph, entities, edges), known) >= 2, text


def test_a_user_turn_in_the_assistants_voice_is_asked_again_then_written_from_the_brief(tmp_path):
    def reply(body):
        last = body["messages"][-1]["content"]
        if last.endswith("Message:"):
            if body["seed"] % 2:  # one attempt in two offers help, as a small model's user often does
                return 200, chat_completion("Hi, I'm the librarian here. How can I help you today?"), {}
            return 200, chat_completion("Thanks for everything, have a nice day."), {}  # asks nothing
        asked = last.splitlines()[-1]
        return 200, chat_completion(f"Loans are due 21 days after the issue date. You asked: {asked}"), {}

    with OpenAICompatibleServer(reply) as server:
        spec = library(tmp_path, server.base_url)
        out = tmp_path / "o.jsonl"
        result = run_janus("generate", spec, "--out", out, "--no-filters", "--d-factor", "0", "-q",
                           env={"OPENAI_API_KEY": SECRET})
    assert result.returncode == 0, result.stderr
    records = read_jsonl(out)
    assert records
    for r in records:
        users = [m["content"] for m in r["messages"] if m["role"] == "user"]
        assert all("How can I help" not in u and "nice day" not in u for u in users)
        assert all("?" in u for u in users)  # each asks about its need
        composed = [t for t in r["usage"]["turns"] if t["role"] == "user" and t.get("composed")]
        assert len(composed) == len(users)
        # two attempts for each user turn before the brief's own question
        assert sum(1 for t in r["usage"]["turns"] if t["role"] == "user") == 2 * len(users)


def test_an_answer_that_repeats_an_earlier_turn_is_asked_again(tmp_path):
    def reply(body):
        last = body["messages"][-1]["content"]
        if last.endswith("Message:"):
            return 200, chat_completion(f"Hi, can you tell me about {_need(last)}?"), {}
        if body["seed"] % 3:
            return 200, chat_completion("Loans are due 21 days after the issue date."), {}
        return 200, chat_completion(f"Here is what applies: {re.findall(r'^- (.+)$', last, re.M)[0]}"), {}

    with OpenAICompatibleServer(reply) as server:
        spec = library(tmp_path, server.base_url)
        out = tmp_path / "o.jsonl"
        run_janus("generate", spec, "--out", out, "--no-filters", "--d-factor", "0", "-q",
                  env={"OPENAI_API_KEY": SECRET})
    for r in read_jsonl(out):
        said = [m["content"] for m in r["messages"]]
        assert len(said) == len(set(said))


def test_an_assistant_that_narrates_fails_with_a_named_reason(tmp_path):
    def reply(body):
        last = body["messages"][-1]["content"]
        if last.endswith("Message:"):
            return 200, chat_completion(f"Hi, can you tell me about {_need(last)}?"), {}
        return 200, chat_completion("The librarian smiled and said, \"Loans are due in 21 days.\""), {}

    with OpenAICompatibleServer(reply) as server:
        spec = library(tmp_path, server.base_url)
        out = tmp_path / "o.jsonl"
        result = run_janus("generate", spec, "--out", out, "--no-filters", "--d-factor", "0", "--max-seeds", "1",
                           "--log-json", env={"OPENAI_API_KEY": SECRET})
    assert not out.exists() or not read_jsonl(out)
    assert "narration" in result.stderr
    assistant_asks = [b for b in server.requests if not b["messages"][-1]["content"].endswith("Message:")]
    assert len(assistant_asks) == 3  # asked three times, then the record failed


def _context_and_diagram():
    spec = load_spec(LIBRARY)
    contexts = {c.id: c for c in seed_contexts(spec)}
    return contexts["relationship:MEMBER->LOAN#1"], spec


def test_walk_facts_are_the_attribute_notes_details_notes_and_links():
    context, _ = _context_and_diagram()
    texts = [f.text for f in context.facts]
    assert "The renewals of a loan: at most 2, unless another member reserved the book." in texts
    assert "Junior members: free, no overdue fines." in texts  # a %% Key: Value detail
    assert "Renew online, by phone or at the desk." in texts  # a %% note
    assert "A member borrows zero or more loans, and each loan has exactly one member." in texts
    kinds = [f.kind for f in context.facts]
    assert kinds.index("relationship") > max(i for i, k in enumerate(kinds) if k in ("attribute", "detail", "note"))


def test_a_brief_draws_a_persona_needs_and_facts_deterministically():
    context, spec = _context_and_diagram()
    direction = Direction.free_text("the member has lost a book")

    def draw(seed):
        return make_brief(context, spec.diagram, spec.setup.description, "MEMBER", direction, random.Random(seed))

    a, b = draw(1), draw(1)
    assert a == b
    assert a.persona.startswith("a member (category: ")
    assert a.event == "The member has lost a book."
    assert "The member has lost a book" in a.situation
    assert all(n.strong for n in a.needs)
    assert {n.text for n in a.needs} == {f.text for f in context.facts if f.strong}
    assert a.facts_for(0)[0] == a.needs[0].text and len(a.facts_for(0)) <= 5
    assert a.needs[1].text == a.facts_for(1)[0]
    assert {draw(s).needs[0].text for s in range(12)} != {a.needs[0].text}  # the need varies with the seed
    question = a.question(0, random.Random(3))
    assert question.endswith("?") and "My category is" in question and "The member has lost a book." in question
    assert a.asks(question, 0)
    assert not a.asks("Thanks, goodbye.", 0)


def test_choices_reads_lists_of_options_only():
    assert choices("adult, junior or concession") == ["adult", "junior", "concession"]
    assert choices("day or night") == ["day", "night"]
    assert choices("at most 2, unless another member reserved the book") == []
    assert choices("eight digits, printed on the library card") == []


def test_grounding_measures_read_the_text():
    context, spec = _context_and_diagram()
    known = grounding.setup_terms(spec.setup)
    answer = "You can renew twice unless another member reserved the book; junior members pay no overdue fines."
    assert grounding.facts_used(answer, context.facts, known) >= 2
    assert grounding.facts_used("Thank you, that is a great question about the library.", context.facts, known) == 0
    assert grounding.asks("Hi. How many times can I renew it?") and not grounding.asks("Thanks, that helps.")
    assert grounding.cut("and I think we...") and grounding.cut("and I think we") and not grounding.cut("Done.")
    assert grounding.placeholder("Best wishes, [Adviser's Name]") and grounding.placeholder("Dear [Name],")
    assert not grounding.placeholder("See [the guide](https://example.org) and note [1].")
    assert grounding.near_copy("we argue about money every week", "we argue about money every week, she said")
    assert not grounding.near_copy("the fine is capped at six pounds", "we argue about money every week")


def test_an_evolution_that_ignores_its_free_text_direction_is_eliminated():
    import asyncio

    from janus_plugins.filters.direction import DirectionShown

    from janus_core.sdk.records import Record

    spec = load_spec(LIBRARY)
    f = DirectionShown()
    f.configure(spec)
    base = [{"role": "system", "content": "You are a librarian."}, {"role": "user", "content": "Can I renew?"},
            {"role": "assistant", "content": "Yes, twice."}]

    def evolved(direction, user, answer):
        parent = Record(messages=base, id="p", seed_id="p", parent_id=None, direction="general", walk={},
                        model="m", prompt_sha256="", output_type="conversation", depth=0)
        child = Record(messages=[*base, {"role": "user", "content": user}, {"role": "assistant", "content": answer}],
                       id="c", seed_id="p", parent_id="p", direction=direction, walk={}, model="m",
                       prompt_sha256="", output_type="conversation", depth=1)
        return asyncio.run(f.check(child, parent, None))

    lost = "the member has lost a book and is worried about the cost"
    assert evolved(lost, "I lost the book I borrowed. What will it cost?", "Its replacement price plus 5 pounds.") \
        is None
    assert "direction's words" in evolved(lost, "What time do you open?", "At nine on weekdays.")
    assert evolved("in-depth", "What time do you open?", "At nine.") is None  # a manner, not a subject


COOL_BACKEND = '''
import json, os
from janus_core import hookimpl
from janus_core.sdk.contracts import Backend, Completion

class Cool(Backend):
    """Suggests a low temperature for the assistant; logs each request's temperature by side."""
    name = "cool"
    default_generation = "turns"
    suggested_temperatures = {"assistant": 0.3}
    async def complete(self, request):
        last = request.messages[-1]["content"]
        user = last.endswith("Message:")
        with open(os.environ["TEMPS_LOG"], "a") as log:
            log.write(json.dumps(["user" if user else "assistant", request.temperature]) + "\\n")
        topic = last.rsplit("find out about ", 1)[-1].split(".", 1)[0]
        text = f"Could you tell me about {topic}?" if user else f"Here is the rule: {last.splitlines()[1][2:]}"
        return Completion(text=text, model="cool", tokens_in=10, tokens_out=5)

@hookimpl
def register_backends(register):
    register(Cool)
'''


def test_a_backends_suggested_temperature_holds_unless_the_run_sets_one(tmp_path):
    import json

    plugin = tmp_path / "cool.py"
    plugin.write_text(COOL_BACKEND)
    spec = tmp_path / "library"
    spec.mkdir()
    (spec / "setup.yaml").write_text(SETUP.format(url="http://127.0.0.1:9").replace(
        "model: {backend: openai, name: stand-in, options: {base_url: \"http://127.0.0.1:9\"}}\n", ""))
    (spec / "diagram.mermaid").write_text((LIBRARY / "diagram.mermaid").read_text())
    for extra, expected in (((), {"user": 0.8, "assistant": 0.3}), (("--temperature", "0.6"), {"user": 0.6,
                                                                                                "assistant": 0.6})):
        log = tmp_path / f"temps{len(extra)}.log"
        result = run_janus("--plugin", plugin, "generate", spec, "--backend", "cool", "--out",
                           tmp_path / f"o{len(extra)}.jsonl", "--max-seeds", "1", "--d-factor", "0", "-q",
                           "--no-filters", *extra, env={"TEMPS_LOG": str(log)})
        assert result.returncode == 0, result.stderr
        seen = dict(json.loads(line) for line in log.read_text().splitlines())
        assert seen == expected


def test_a_turn_asked_again_gets_more_room_after_a_cut_and_more_warmth_after_a_repeat(tmp_path):
    from janus_core.plan.jobs import Plan
    from janus_core.plugins import load_plugins
    from janus_core.sdk.contracts import Limits

    spec = load_spec(LIBRARY)
    plugins = load_plugins()
    plan = Plan(spec, seed_contexts(spec), plugins.registry.get("output_types", "conversation"),
                {n: r.obj for n, r in plugins.registry.directions.items()}, Limits(turns=2, message_chars=300),
                generation="turns", role_temperatures={"assistant": 0.3})
    job = next(plan.seed_jobs())
    play = plan.role_play
    messages = [{"role": "user", "content": "Can I renew my loan?"}]
    first = play.request(job, "assistant", messages, 0)
    cut = play.request(job, "assistant", messages, 0, 1, after="cut: no full sentence")
    repeat = play.request(job, "assistant", messages, 0, 2, after="repeated: the turn repeats")
    assert (first.temperature, cut.temperature) == (0.3, 0.3) and cut.max_tokens == 2 * first.max_tokens
    assert repeat.temperature == 1.0 and repeat.max_tokens == 4 * first.max_tokens
