"""Directions: every built-in direction's prompt, inline directions in setup.yaml, free text."""

from __future__ import annotations

import shutil
import textwrap

import pytest
from conftest import SAMPLES

from janus_core.plan.graph import build_graph, plan
from janus_core.plan.jobs import Job, Plan
from janus_core.plugins import load_plugins
from janus_core.sdk.contracts import Limits
from janus_core.sdk.records import Record
from janus_core.spec.model import load_spec

PLUGINS = load_plugins()
DIRECTIONS = {name: reg.obj for name, reg in PLUGINS.registry.directions.items()}


def make_plan(spec_dir, output_type="instruct") -> Plan:
    spec = load_spec(spec_dir)
    contexts = plan(build_graph(spec.diagram))
    return Plan(spec, contexts, PLUGINS.registry.get("output_types", output_type), DIRECTIONS, Limits())


def parent_record(plan_: Plan) -> Record:
    return Record(messages=[{"role": "user", "content": "How do we stop arguing about money?"},
                            {"role": "assistant", "content": "Start with a shared budget."}],
                  id="p1", seed_id="p1", parent_id=None, direction="general", walk={}, model="m",
                  prompt_sha256="0" * 64, output_type=plan_.output_type.name)


EVOL = ["add-constraints", "deepening", "concretizing", "increase-reasoning", "complicate-input", "in-breadth"]


@pytest.mark.parametrize("name", EVOL)
def test_evol_instruct_prompts(name):
    p = make_plan(SAMPLES / "marriage_counsel_instruct")
    direction = DIRECTIONS[name]
    assert direction.pack == "evol-instruct" and direction.template
    job = Job(f"derive|p1|{name}|0", p.contexts[0], direction, parent_record(p))
    prompt = p.request(job).messages[-1]["content"]
    assert "[COUNSELEE] How do we stop arguing about money?" in prompt  # the record being evolved
    assert "Add only 10 to 20 words" in prompt
    assert "Keep every table, code block" in prompt
    assert 'Never mention "given prompt", "rewritten prompt"' in prompt
    assert '{"instruction": "...", "response": "..."}' in prompt  # the output type's format
    assert "COUNSELOR provides counseling to COUNSELEE" in prompt  # the walked context
    assert "{{" not in prompt and "{%" not in prompt
    how = {"add-constraints": "one more constraint", "deepening": "more depth and breadth",
           "concretizing": "more concrete", "increase-reasoning": "several steps of reasoning",
           "complicate-input": "a small table, a code snippet", "in-breadth": "brand-new request"}[name]
    assert how in prompt


@pytest.mark.parametrize("name", ["general", "diverse", "in-depth"])
def test_janus_pack_directions_fill_the_direction_placeholder(name):
    p = make_plan(SAMPLES / "marriage_counsel")
    direction = DIRECTIONS[name]
    seed = p.request(Job(f"seed|x|{name}|0", p.contexts[0], direction)).messages[-1]["content"]
    line = next(line for line in seed.splitlines() if line.startswith("Direction: "))
    assert line.removeprefix("Direction: ") in direction.instructions
    derived = p.request(Job(f"derive|p1|{name}|0", p.contexts[0], direction, parent_record(p)))
    text = derived.messages[-1]["content"]
    assert "Evolve it in this direction: " in text and "Here is an existing example" in text


def test_inline_directions_in_setup_yaml(tmp_path):
    spec = tmp_path / "spec"
    shutil.copytree(SAMPLES / "marriage_counsel", spec)
    (spec / "setup.yaml").write_text(textwrap.dedent("""\
        user_role: COUNSELEE
        assistant_role: COUNSELOR
        seed_directions: [general]
        derivational_directions: [role-play, whole-prompt]
        directions:
          - name: role-play
            description: act a scene out
            instruction: The {{ user_role }} acts the scene out with their partner.
          - name: whole-prompt
            template: |
              CUSTOM PROMPT for {{ assistant_role }}.
              {{ previous }}
              {{ output_format }}
        """))
    p = make_plan(spec, "conversation")
    assert [d.name for d in p.derive_directions] == ["role-play", "whole-prompt"]
    role_play, whole = p.derive_directions
    assert role_play.pack == "setup.yaml"
    text = p.request(Job("derive|p1|role-play|0", p.contexts[0], role_play, parent_record(p))).messages[-1]["content"]
    assert "Evolve it in this direction: The COUNSELEE acts the scene out with their partner." in text
    text = p.request(Job("derive|p1|whole|0", p.contexts[0], whole, parent_record(p))).messages[-1]["content"]
    assert text.startswith("CUSTOM PROMPT for COUNSELOR.")


def test_inline_direction_with_an_unknown_placeholder_is_located(cli, tmp_path):
    spec = tmp_path / "spec"
    shutil.copytree(SAMPLES / "marriage_counsel", spec)
    (spec / "setup.yaml").write_text(
        "user_role: COUNSELEE\nassistant_role: COUNSELOR\ndirections:\n  - name: x\n"
        "    instruction: Talk like {{ user_rol }}\n")
    result = cli("validate", spec)
    assert result.exit_code == 1
    assert "setup.yaml:5:18: directions.0.instruction: unknown placeholder '{{ user_rol }}'" in result.stderr


def test_free_text_direction():
    p = make_plan(SAMPLES / "marriage_counsel_instruct")
    free = p.derive_directions[-1]
    assert free.pack == "free-text"
    assert free.instruction(__import__("random").Random(0)).startswith("Style: answer with one concrete")
