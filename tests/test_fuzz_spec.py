"""Fuzzing `janus validate` with hundreds of malformed setup.yaml and diagram.mermaid files.

Hypothesis mutates a valid spec (hostile fragments inserted, slices cut or repeated, control and
odd Unicode characters, truncation) and every result must be either "ok" or a clear error at
file:line:col: no traceback, no crash, within loose bounds on time and memory.
"""

from __future__ import annotations

import re
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import run_janus
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from janus_core.cli import cli as janus

SETUP = """\
user_role: CLIENT
assistant_role: COUNSELOR
description: "Couples in counselling"
seed_prompt: |
  {{ diagram }}
  {% for e in entities %}{{ e | lower }}{% endfor %}
  {{ context }} {{ direction }}
  {{ output_format }}
seed_directions: [general, gentle]
directions:
  - name: gentle
    instruction: Keep it {{ user_role }}-friendly
walk:
  strategies: [relationship]
model: {temperature: 0.5, options: {top_p: 0.9}}
"""

DIAGRAM = """\
---
title: Counselling
---
erDiagram
    CLIENT ||--o{ SESSION : books
    COUNSELOR ||--|{ SESSION : leads
    CLIENT {
        string name PK "the client's name"
    }
    %% note: sessions last an hour
"""

#: fragments an attacker or an accident puts into a file
FRAGMENTS = [
    "[", "]", "{", "}", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "&a ", "*a", "&a [*a, *a]",
    "<<: *a\n", ": ", "- ", "\t", "\x00", "\x1b", "\x7f", "\ufeff", "\u2028", "\ud7ff", "\ufffe", "{{", "}}", "{%",
    "%}", "{% include '/etc/passwd' %}", "{{ ''.__class__.__mro__ }}", "{% for i in range(99999) %}x{% endfor %}",
    "{{ lipsum() }}", "{% macro m() %}{{ m() }}{% endmacro %}", "---\n", "%%", '"', "'", "|", ">",
    "!!python/object/apply:os.system ['id']",
    "!!binary aGk=", "? ", "\n  ", "\r", "\\", "erDiagram", "||--o{", "}o..o|", " : ", '"unterminated', "9" * 5000,
    "documents: ['/etc']\n", "documents: ['../x']\n", "er_diagram_path: /dev/zero\n", "~", "%YAML 1.1\n", "...\n",
]

#: template bombs: values built past every bound from a few characters, and nesting that Jinja's
#: parser and compiler cannot take (each must be refused before anything renders)
BOMBS = [
    "{{ entities|tojson(indent=10**9) }}",
    "{% set a = diagram %}" + "{% set a = a ~ a %}" * 40 + "{{ a }}",
    "{% set a = [1] * 4000000 %}{{ ([a] * 4000000)|string }}",
    "{{ [[1]]|sum(start=[]) }}",
    "{% set a = 'x' * 4000000 %}{{ ([a] * 3999999)|unique|list }}",
    "{% for i in entities %}" * 21 + "{% endfor %}" * 21,
    "{% if diagram %}" * 100 + "{% endif %}" * 100,
    "{{ " + "[" * 300 + "]" * 300 + " }}",
    "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}",
    "{{ " + " + ".join(["diagram"] * 20000) + " }}",
    "{{ diagram|truncate(2, end='..........') }}",
]
FRAGMENTS += BOMBS

LOCATED = re.compile(r"[^\s:]+:\d+:\d+: ")
runner = CliRunner()


def mutations() -> st.SearchStrategy:
    fragment = st.one_of(st.sampled_from(FRAGMENTS), st.text(min_size=1, max_size=8))
    return st.lists(st.tuples(st.sampled_from(["insert", "cut", "repeat", "truncate"]),
                              st.floats(0, 1), st.floats(0, 1), fragment), min_size=1, max_size=6)


def mutate(text: str, steps: list) -> str:
    for kind, a, b, fragment in steps:
        i, j = sorted((int(a * len(text)), int(b * len(text))))
        if kind == "insert":
            text = text[:i] + fragment + text[i:]
        elif kind == "cut":
            text = text[:i] + text[j:]
        elif kind == "repeat":
            text = text[:j] + text[i:j] * 3 + text[j:]
        else:
            text = text[:i]
    return text


class Tracker:
    """The slowest example and the highest memory peak seen, for loose bounds at the end."""

    slowest = 0.0
    peak = 0


def validate(setup: str, diagram: str, tracker: type[Tracker]) -> Any:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "setup.yaml").write_text(setup, encoding="utf-8", errors="surrogatepass")
        (folder / "diagram.mermaid").write_text(diagram, encoding="utf-8", errors="surrogatepass")
        started = time.monotonic()
        tracemalloc.reset_peak()
        result = runner.invoke(janus, ["validate", str(folder)])
        tracker.peak = max(tracker.peak, tracemalloc.get_traced_memory()[1])
        tracker.slowest = max(tracker.slowest, time.monotonic() - started)
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        f"{type(result.exception).__name__}: {result.exception}"
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output
    if result.exit_code == 1:
        first = result.stderr.splitlines()[0]
        assert LOCATED.match(first), result.stderr
    return result


@pytest.fixture(scope="module")
def memory():
    tracemalloc.start()
    yield Tracker
    tracemalloc.stop()
    # loose bounds that catch a bomb or a hang, not speed targets
    assert Tracker.slowest < 60, f"one validate took {Tracker.slowest:.1f} s"
    assert Tracker.peak < 256 * 2**20, f"memory peaked at {Tracker.peak / 2**20:.0f} MB"


FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(steps=mutations())
def test_malformed_setup_yaml_gives_a_clear_error(memory, steps):
    validate(mutate(SETUP, steps), DIAGRAM, memory)


@FUZZ
@given(steps=mutations())
def test_malformed_diagram_gives_a_clear_error(memory, steps):
    validate(SETUP, mutate(DIAGRAM, steps), memory)


#: every place in setup.yaml whose text Janus renders as a template
PLACES = {
    "seed_prompt": "seed_prompt: |\n  {{ context }}\n  BOMB\n",
    "system_prompt": "system_prompt: |\n  BOMB\n",
    "instruction": "seed_directions: [x]\ndirections:\n  - name: x\n    instruction: |\n      BOMB\n",
    "template": "derivational_directions: [x]\ndirections:\n  - name: x\n    template: |\n      BOMB\n",
    "description": "seed_directions: [x]\ndirections:\n  - name: x\n    description: |\n      BOMB\n",
    "name": "seed_directions: ['x BOMB']\ndirections:\n  - name: 'x BOMB'\n",
    "free-text": "derivational_directions: ['BOMB']\n",
}


@pytest.mark.parametrize("place", list(PLACES))
@pytest.mark.parametrize("bomb", BOMBS, ids=[f"bomb{i}" for i in range(len(BOMBS))])
def test_a_template_bomb_anywhere_a_template_is_read_gives_a_clear_error(memory, place, bomb):
    text = PLACES[place].replace("BOMB", bomb.replace("'", "''") if "'" in PLACES[place] else bomb)
    result = validate("user_role: CLIENT\nassistant_role: COUNSELOR\n" + text, DIAGRAM, memory)
    assert result.exit_code == 1, result.output


@pytest.mark.parametrize("setup, diagram", [
    (SETUP.replace("CLIENT\n", "CLIENT\x00\n", 1), DIAGRAM),
    (SETUP + "x: " + "[" * 5000 + "\n", DIAGRAM),
    (SETUP, DIAGRAM.replace("title: Counselling", "title: &a [*a]")),
], ids=["nul", "nesting", "self-alias"])
def test_malformed_spec_as_a_program(tmp_path, setup, diagram):
    (tmp_path / "setup.yaml").write_text(setup)
    (tmp_path / "diagram.mermaid").write_text(diagram)
    result = run_janus("validate", tmp_path, timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert LOCATED.match(result.stderr), result.stderr
