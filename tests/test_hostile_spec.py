"""A spec folder is untrusted data: templates run sandboxed, YAML is bounded, documents stay inside.

One test per finding of the hostile-input probe (issue 10): server-side template injection in a
seed prompt and in an inline direction, include of a system file, a prompt grown to 100 MB, YAML
alias bombs in setup.yaml, diagram front matter and rubric files, deep nesting, NUL bytes, and
documents that point outside the spec folder.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from conftest import run_janus

from janus_core.sdk.errors import JanusError
from janus_core.spec.sandbox import MAX_CHARS, TemplateRefused
from janus_core.spec.templates import render

DIAGRAM = "erDiagram\n    CLIENT ||--o{ COUNSELOR : consults\n"
ROLES = "user_role: CLIENT\nassistant_role: COUNSELOR\n"

#: a template that, outside a sandbox, runs a shell command that creates the file MARKER
SSTI = ("{% for c in ''.__class__.__mro__[1].__subclasses__() %}{% if c.__name__ == 'catch_warnings' %}"
        "{{ c()._module.__builtins__['__import__']('os').system('touch MARKER') }}{% endif %}{% endfor %}")


def write_spec(folder: Path, setup: str, diagram: str = DIAGRAM) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "setup.yaml").write_text(setup, encoding="utf-8")
    (folder / "diagram.mermaid").write_text(diagram, encoding="utf-8")
    return folder


def block(text: str, indent: int = 2) -> str:
    """``text`` as the body of a YAML block scalar."""
    return "".join(" " * indent + line + "\n" for line in text.splitlines())


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """The classic 'billion laughs': each anchor a list of ``width`` aliases to the one before."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for n in range(1, levels):
        lines.append(f"a{n}: &a{n} [" + ",".join([f"*a{n - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def assert_clear_error(result, where: str, words: str) -> None:
    """Exit 1, the first line names ``where`` (file:line:col), no traceback."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    first = result.stderr.splitlines()[0]
    assert where in first, result.stderr
    assert words in result.stderr, result.stderr


def bounded(call, megabytes: float = 64):
    """Run ``call`` and return its result, asserting it allocated at most ``megabytes`` at its peak."""
    tracemalloc.start()
    try:
        result = call()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < megabytes * 2**20, f"peak {peak / 2**20:.0f} MB"
    return result


# --- templates ---------------------------------------------------------------------------------

def test_ssti_in_seed_prompt_is_refused_by_validate_and_never_runs(cli, tmp_path, monkeypatch):
    spec = write_spec(tmp_path / "spec", ROLES + "seed_prompt: |\n" + block("{{ context }}\n" + SSTI))
    monkeypatch.chdir(tmp_path)
    result = cli("validate", spec)
    assert_clear_error(result, "setup.yaml:5:", "seed_prompt: the attribute '__class__' is not allowed")
    result = cli("generate", spec, "--dry-run", "--out", tmp_path / "out.jsonl")
    assert result.exit_code == 1
    assert not (tmp_path / "MARKER").exists()


def test_ssti_in_an_inline_direction_is_refused_by_validate_and_never_runs(cli, tmp_path, monkeypatch):
    setup = ROLES + "seed_directions: [evil]\ndirections:\n  - name: evil\n    instruction: \"" + SSTI + "\"\n"
    spec = write_spec(tmp_path / "spec", setup)
    monkeypatch.chdir(tmp_path)
    result = cli("validate", spec)
    assert_clear_error(result, "setup.yaml:6:", "directions.0.instruction: ")
    result = cli("generate", spec, "--dry-run", "--out", tmp_path / "out.jsonl")
    assert result.exit_code == 1
    assert not (tmp_path / "MARKER").exists()


def test_render_refuses_python_internals_even_without_validate():
    with pytest.raises(TemplateRefused, match="is not allowed"):
        render("{{ ''.__class__.__mro__[1].__subclasses__()|length }}")
    with pytest.raises(TemplateRefused, match="unsafe"):  # a computed name reaches the sandbox's own check
        render("{% set k = '__cla' ~ 'ss__' %}{{ context[k] }}", context="x")


def test_include_of_a_system_file_is_refused(cli, tmp_path):
    spec = write_spec(tmp_path / "spec", ROLES + "seed_prompt: \"{{ context }} {% include '/etc/passwd' %}\"\n")
    assert_clear_error(cli("validate", spec), "setup.yaml:3:", "include")
    with pytest.raises(TemplateRefused, match="include"):
        render("{% include '/etc/passwd' %}")
    with pytest.raises(TemplateRefused, match="import"):
        render("{% import '/etc/passwd' as x %}")


@pytest.mark.parametrize("loop", [
    "{% for i in range(100000) %}{{ diagram }}{% endfor %}",
    "{% for i in range(10000) %}{% for j in range(10000) %}{{ diagram }}{% endfor %}{% endfor %}",
    "{% for i in range(5000) %}{{ diagram * 5000 }}{% endfor %}",
], ids=["range", "nested", "repeat"])
def test_a_loop_that_renders_a_100_mb_prompt_is_refused(cli, tmp_path, loop):
    spec = write_spec(tmp_path / "spec", ROLES + "seed_prompt: |\n" + block("{{ context }}\n" + loop))
    result = bounded(lambda: cli("validate", spec))
    assert_clear_error(result, "setup.yaml:5:", "seed_prompt: ")


def test_rendering_stops_at_the_bound_while_it_renders():
    started = time.monotonic()
    with pytest.raises(TemplateRefused, match="grows past"):
        bounded(lambda: render("{% for i in range(10000) %}{{ diagram }}{% endfor %}", diagram="x" * 1000))
    with pytest.raises(TemplateRefused, match="loops run more than"):
        bounded(lambda: render("{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}"))
    assert time.monotonic() - started < 60  # a hang guard, not a speed target
    assert len(render("{% for i in range(100) %}{{ diagram }}{% endfor %}", diagram="x" * 1000)) < MAX_CHARS


def test_ordinary_templates_still_render():
    text = render("{% for e in entities %}{{ loop.index }}. {{ e | lower }}{% if not loop.last %}, {% endif %}"
                  "{% endfor %} - {{ entities | map('upper') | join('/') }} {{ description | default('none') }}",
                  entities=["A", "B"], description="")
    assert text == "1. a, 2. b - A/B"


def test_rubric_text_is_data_not_a_template(tmp_path):
    from janus_plugins.filters.judge import Judge

    rubrics = tmp_path / "rubrics.yaml"
    criteria = "{{ ''.__class__ }} {0.__class__} {% include '/etc/passwd' %}"
    rubrics.write_text(json.dumps({"rubrics": [{"name": "r", "criteria": criteria,
                                                "scores": {n: str(n) for n in range(1, 6)}}]}))
    from janus_core.spec.model import load_spec

    spec = load_spec(write_spec(tmp_path / "spec", ROLES))
    judge = Judge()
    judge.configure(spec, Judge.Options(rubrics=str(rubrics)))
    from janus_core.sdk.records import Record

    record = Record(messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
                    id="r", seed_id="r", parent_id=None, direction="d", walk={}, model="m", prompt_sha256="",
                    output_type="conversation")
    assert criteria in judge.prompt(record, judge.rubrics[0])


# --- template bombs: bounded before anything renders --------------------------------------------

#: templates that built gigabytes or ran for minutes while passing the old bounds, or that made
#: Jinja's parser or compiler fail with a traceback; each with the words of its refusal
BOMBS = {
    "tojson-indent": ("{{ entities|tojson(indent=10**9) }}", "tojson(): indent must be a number from 0 to 16"),
    "tilde-doubling": ("{% set a = diagram %}" + "{% set a = a ~ a %}" * 40 + "{{ a }}",
                       "more than 100 copies of the prompt's values"),
    "list-of-lists-string": ("{% set a = [1] * 4000000 %}{{ ([a] * 4000000)|string }}", "'*' may repeat text"),
    "sum-start": ("{{ [[1] * 4000000] * 4000000|sum(start=[]) }}", "sum(): start must be a number"),
    "unique-of-copies": ("{% set a = 'x' * 4000000 %}{{ ([a] * 3999999)|unique|list }}", "'*' may repeat"),
    "for-21": ("{% for i in entities %}" * 21 + "{% endfor %}" * 21, "blocks ({% for %}, {% if %}, {% with %}) nest"),
    "if-100": ("{% if diagram %}" * 100 + "{% endif %}" * 100, "nest more than 10 deep"),
    "list-300": ("{{ " + "[" * 300 + "]" * 300 + " }}", "brackets nest more than 20 deep"),
    "parens-3000": ("{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}", "brackets nest more than 20 deep"),
    "plus-20000": ("{{ " + " + ".join(["diagram"] * 20000) + " }}", "more than 10,000 tokens"),
    "plus-4000": ("{{ " + " + ".join(["diagram"] * 4000) + " }}", "nests more than 48 levels deep"),
    "filters-4000": ("{{ diagram" + "|trim" * 4000 + " }}", "nests more than 48 levels deep"),
    "not-3000": ("{{ " + "not " * 3000 + "diagram }}", "more than 20 'not', '-' or '+' in a row"),
    "truncate-end": ("{{ diagram|truncate(2, end='" + "." * 10 + "') }}", "truncate(): length must be a number"),
    "literal-digits": ("{{ " + "9" * 5000 + " }}", "a number here has too many digits"),
}


def limited(*args: str | Path) -> subprocess.CompletedProcess:
    """``janus ARGS`` (or ``python SCRIPT.py``) in a fresh interpreter with at most 1 GB of memory,
    stopped after 60 s: a bomb fails the test instead of the machine."""
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))

    script = str(args[0]).endswith(".py")
    command = [sys.executable, *(() if script else ("-m", "janus_core.cli")), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, preexec_fn=cap)


def assert_located(result: subprocess.CompletedProcess, *words: str) -> None:
    """Exit 1, no traceback, and the first line holds every one of ``words`` (file:line:col first)."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    first = result.stderr.splitlines()[0]
    assert all(w in first for w in words), result.stderr


@pytest.mark.parametrize("bomb, words", list(BOMBS.values()), ids=list(BOMBS))
def test_a_template_bomb_is_a_located_error_in_bounded_memory_and_time(tmp_path, bomb, words):
    spec = write_spec(tmp_path / "spec", ROLES + "seed_prompt: |\n" + block("{{ context }}\n" + bomb))
    assert_located(limited("validate", spec), "setup.yaml:5:", "seed_prompt: ", words)


@pytest.mark.parametrize("place, setup, where", [
    ("description", "seed_directions: [x]\ndirections:\n  - name: x\n    description: \"{bomb}\"\n",
     "setup.yaml:6:18: directions.0.description: "),
    ("name", "seed_directions: [x]\ndirections:\n  - name: \"{bomb}\"\n", "setup.yaml:5:11: directions.0.name: "),
    ("free-text", "seed_directions: [general]\nderivational_directions: [general, \"{bomb}\"]\n",
     "setup.yaml:4:36: derivational_directions.1: "),
], ids=["description", "name", "free-text"])
def test_every_text_rendered_as_a_template_is_checked_by_validate(cli, tmp_path, place, setup, where):
    """A direction's description (used when it has no instruction), its name (when it has neither)
    and a free-text direction are rendered while generating: validate checks them the same way."""
    bomb = "{% set a = diagram %}" + "{% set a = a ~ a %}" * 40 + "{{ a }}"
    spec = write_spec(tmp_path / "spec", ROLES + setup.format(bomb=bomb))
    assert_located(limited("validate", spec), where, "more than 100 copies")
    result = limited("generate", spec, "--dry-run", "--out", tmp_path / "out.jsonl")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    (spec / "setup.yaml").write_text(ROLES + setup.format(bomb="{{ user_role }} in {{ context }}"))
    assert cli("validate", spec).exit_code == 0


def test_render_runs_the_same_check_before_anything_renders(tmp_path):
    """render() refuses every bomb itself, so a template that never went through validate (a
    plugin's direction, a spec changed after validate) is bounded too."""
    code = ("import json\n"
            "from janus_core.spec.templates import render\n"
            "from janus_core.spec.sandbox import TemplateRefused\n"
            f"bombs = {json.dumps([bomb for bomb, _ in BOMBS.values()])}\n"
            "for bomb in bombs:\n"
            "    try:\n"
            "        render('line one\\n' + bomb, diagram='x' * 2000, context='c', entities=['A', 'B'])\n"
            "        print('rendered')\n"
            "    except TemplateRefused as exc:\n"
            "        print(exc.lineno, exc.message)\n")
    (tmp_path / "bombs.py").write_text(code)
    result = limited(tmp_path / "bombs.py")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(BOMBS)
    for line, (_, words) in zip(lines, BOMBS.values(), strict=True):
        assert line.startswith("2 ") and words in line, line


def test_render_measures_values_before_it_builds_them(monkeypatch):
    """The second line of defence: with the size analysis switched off, '~', printing, '+' and
    filters still refuse a value before building it, in little memory."""
    import janus_core.spec.sandbox as sandbox

    monkeypatch.setattr(sandbox, "size_findings", lambda tree: [])
    sandbox.compiled.cache_clear()
    try:
        doubling = "{% set a = diagram %}" + "{% set a = a ~ a %}" * 40
        with pytest.raises(TemplateRefused, match="'~' would make a value longer than"):
            bounded(lambda: render(doubling, diagram="x" * 1000))
        nested = "{% set a = [diagram] %}" + "{% set a = [a, a] %}" * 40
        for shown in ("{{ a }}", "{{ a|string }}", "{{ a|tojson }}", "{{ a|join(',') }}", "{{ a ~ '' }}"):
            with pytest.raises(TemplateRefused, match="longer than"):
                bounded(lambda shown=shown: render(nested + shown, diagram="x" * 1000))
        with pytest.raises(TemplateRefused, match="would go over more than 100,000 items"):
            bounded(lambda: render("{% set a = [diagram] %}" + "{% set a = a + a %}" * 17 + "{{ a|unique|list }}",
                                   diagram="x"))
    finally:
        sandbox.compiled.cache_clear()


def test_ordinary_uses_of_the_capped_filters_still_render():
    text = render("{{ entities|tojson(indent=2) }}|{{ d|indent(4) }}|{{ d|truncate(5, end='~') }}|"
                  "{{ entities|join(', ') }}|{{ d|replace('a', '[a]') }}|{{ [1, 2]|sum(start=10) }}|{{ 2 * 3 }}|"
                  "{{ entities|select('upper')|list|length }}|{{ d is string }}",
                  entities=["A", "B"], d="a b c d e f\ng")
    assert text == ('[\n  "A",\n  "B"\n]|a b c d e f\n    g|a b~|A, B|[a] b c d e f\ng|13|6|2|True')


# --- YAML --------------------------------------------------------------------------------------

def test_alias_bomb_in_setup_yaml_is_refused_fast_with_little_memory(cli, tmp_path):
    bomb = ROLES + alias_bomb() + "description: *a8\n"
    assert len(bomb) < 700
    spec = write_spec(tmp_path / "spec", bomb)
    result = bounded(lambda: cli("validate", spec))
    assert_clear_error(result, "setup.yaml:", "expand to more than")


def test_alias_bomb_in_diagram_front_matter_is_refused_fast_with_little_memory(cli, tmp_path):
    front = "---\n" + alias_bomb() + "title: *a8\n---\n"
    assert len(front) < 700
    spec = write_spec(tmp_path / "spec", ROLES, front + DIAGRAM)
    result = bounded(lambda: cli("validate", spec))
    assert_clear_error(result, "diagram.mermaid:", "front matter: aliases here expand to more than")


def test_alias_bomb_in_a_rubric_file_is_a_clear_error(tmp_path):
    from janus_plugins.filters.judge import load_rubrics

    rubrics = tmp_path / "rubrics.yaml"
    rubrics.write_text(alias_bomb() + "rubrics: *a8\n")
    with pytest.raises(JanusError, match=r"rubrics.yaml:\d+:\d+: aliases here expand"):
        bounded(lambda: load_rubrics(rubrics))


def test_a_self_referring_alias_is_refused(cli, tmp_path):
    spec = write_spec(tmp_path / "spec", ROLES + "description: &d [*d]\n")
    assert_clear_error(cli("validate", spec), "setup.yaml:3:", "refers to the collection that holds it")


@pytest.mark.parametrize("nesting", ["description: " + "[" * 20000, "description: " + "{a: " * 20000,
                                     "description:\n" + "- " * 20000], ids=["flow-list", "flow-map", "block"])
def test_deep_nesting_in_setup_yaml_is_a_clear_error(cli, tmp_path, nesting):
    spec = write_spec(tmp_path / "spec", ROLES + nesting + "\n")
    assert_clear_error(cli("validate", spec), "setup.yaml:", "nested more than 50 levels")


def test_deep_nesting_in_front_matter_is_a_clear_error(cli, tmp_path):
    spec = write_spec(tmp_path / "spec", ROLES, "---\ntitle: " + "[" * 20000 + "\n---\n" + DIAGRAM)
    assert_clear_error(cli("validate", spec), "diagram.mermaid:2:", "nested more than 50 levels")


def test_a_nul_byte_in_setup_yaml_is_a_clear_error(cli, tmp_path):
    spec = write_spec(tmp_path / "spec", ROLES + "description: a\x00b\n")
    assert_clear_error(cli("validate", spec), "setup.yaml:3:15:", "U+0000")


def test_an_oversized_setup_yaml_is_refused_without_reading_it_all(cli, tmp_path):
    spec = write_spec(tmp_path / "spec", ROLES + "description: " + "x" * 5_000_000 + "\n")
    assert_clear_error(bounded(lambda: cli("validate", spec), 32), "setup.yaml:1:1:", "larger than")


def test_a_huge_integer_is_a_clear_error(cli, tmp_path):
    spec = write_spec(tmp_path / "spec", ROLES + "s_factor: " + "9" * 5000 + "\n")
    assert_clear_error(cli("validate", spec), "setup.yaml:3:", "cannot read this value")


def test_option_values_are_bounded(cli, tmp_path):
    from conftest import SAMPLES

    for value in ("[" * 20000, "&a [*a]", "a\x00"):
        result = cli("generate", SAMPLES / "marriage_counsel", "--dry-run", "--out", tmp_path / "o.jsonl",
                     "--option", f"x={value}")
        assert result.exit_code == 2, result.output
        assert "--option x" in result.output and "Traceback" not in result.output


def test_input_jsonl_rows_are_bounded(cli, tmp_path):
    from conftest import SAMPLES

    source = tmp_path / "in.jsonl"
    good = json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hey"}]})
    source.write_text(good + "\n" + "[" * 100_000 + "]" * 100_000 + "\n")
    result = cli("generate", SAMPLES / "marriage_counsel", "--type", "follow-up", "--input", source, "--dry-run")
    assert result.exit_code == 1
    assert f"{source}:2: JSON nested too deeply" in result.stderr
    source.write_text(good + "\n[1, 2]\n")
    result = cli("generate", SAMPLES / "marriage_counsel", "--type", "follow-up", "--input", source, "--dry-run")
    assert result.exit_code == 1
    assert f"{source}:2: not a conversation" in result.stderr


# --- documents ---------------------------------------------------------------------------------

@pytest.fixture
def outside(tmp_path) -> Path:
    """A folder beside the spec folder holding a document that must never be read."""
    folder = tmp_path / "private"
    folder.mkdir()
    (folder / "secret.md").write_text("CLIENT secret CLIENT\n")
    return folder


@pytest.mark.parametrize("entry, words", [
    ("/etc", "an absolute path"),
    ("/", "an absolute path"),
    ("/etc/hostname", "an absolute path"),
    ("../private/secret.md", "'..' leads outside"),
    ("../../**/*.md", "'..' leads outside"),
    ("docs/../../private", "'..' leads outside"),
    ("~/**", "'~' (a home folder)"),
])
def test_documents_outside_the_spec_folder_are_refused(cli, tmp_path, outside, entry, words):
    spec = write_spec(tmp_path / "spec", ROLES + f"documents:\n  - notes.md\n  - '{entry}'\n")
    (spec / "notes.md").write_text("CLIENT notes\n")
    result = bounded(lambda: cli("validate", spec))
    assert_clear_error(result, "setup.yaml:5:5:", f"documents: '{entry}': {words}")


@pytest.mark.parametrize("link", ["folder", "file"])
def test_a_symlink_out_of_the_spec_folder_is_refused(cli, tmp_path, outside, link):
    spec = write_spec(tmp_path / "spec", ROLES + "documents: [docs]\n")
    (spec / "docs").mkdir()
    (spec / "docs" / "notes.md").write_text("CLIENT notes\n")
    if link == "folder":
        os.symlink(outside, spec / "docs" / "more")
        (spec / "setup.yaml").write_text(ROLES + "documents: ['docs/more/*.md']\n")
    else:
        os.symlink(outside / "secret.md", spec / "docs" / "secret.md")
    result = cli("validate", spec)
    assert_clear_error(result, "setup.yaml:3:", "symlink that leads outside the spec folder")

    from janus_plugins.erdiagram.parser import parse_erdiagram

    from janus_core.plan.documents import Documents
    from janus_core.spec.documents import DocumentError

    patterns = ["docs/more/*.md"] if link == "folder" else ["docs"]
    with pytest.raises(DocumentError, match="outside the spec folder"):
        Documents.load(spec, patterns, parse_erdiagram(DIAGRAM))


@pytest.mark.parametrize("entry, words", [
    ("/etc/hostname", "an absolute path"),
    ("../private/secret.mermaid", "'..' leads outside"),
    ("~/diagram.mermaid", "'~' (a home folder)"),
    ("link.mermaid", "a symlink that leads outside"),
])
def test_er_diagram_path_stays_in_the_spec_folder(cli, tmp_path, outside, entry, words):
    (outside / "secret.mermaid").write_text(DIAGRAM)
    spec = write_spec(tmp_path / "spec", ROLES + f"er_diagram_path: '{entry}'\n")
    os.symlink(outside / "secret.mermaid", spec / "link.mermaid")
    assert_clear_error(cli("validate", spec), "setup.yaml:3:18:", f"er_diagram_path: {words}")


@pytest.mark.parametrize("entry, words", [
    ("/etc/hostname", "an absolute path"),
    ("../private/secret.md", "'..' leads outside"),
])
def test_filter_option_files_in_setup_yaml_stay_in_the_spec_folder(cli, tmp_path, outside, entry, words):
    """A rubric file's text is sent to the model, so setup.yaml may not point it at the disk."""
    spec = write_spec(tmp_path / "spec", ROLES + f"filter_options:\n  judge:\n    rubrics: '{entry}'\n")
    assert_clear_error(cli("validate", spec), "setup.yaml:5:14:", f"rubrics: {words}")


@pytest.mark.parametrize("entry", ["docs", "docs/**/*.md"])
def test_a_symlinked_folder_is_not_walked(cli, tmp_path, outside, entry):
    spec = write_spec(tmp_path / "spec", ROLES + f"documents: ['{entry}']\n")
    (spec / "docs").mkdir()
    (spec / "docs" / "notes.md").write_text("CLIENT notes\n")
    os.symlink(outside, spec / "docs" / "more")
    result = cli("validate", spec)
    assert result.exit_code == 0, result.output
    assert "from 1 files" in result.output


def test_documents_have_a_file_count_and_size_cap(cli, tmp_path, monkeypatch):
    import janus_core.spec.documents as documents

    spec = write_spec(tmp_path / "spec", ROLES + "documents: [docs]\n")
    (spec / "docs").mkdir()
    for n in range(4):
        (spec / "docs" / f"{n}.md").write_text("CLIENT " * 100)
    monkeypatch.setattr(documents, "MAX_FILES", 3)
    assert_clear_error(cli("validate", spec), "setup.yaml:3:", "more than 3 document files")
    monkeypatch.setattr(documents, "MAX_FILES", 10)
    monkeypatch.setattr(documents, "MAX_TOTAL_BYTES", 1000)
    assert_clear_error(cli("validate", spec), "setup.yaml:3:", "larger than 1,000 bytes in all")


def test_hostile_spec_as_a_program_gives_no_traceback(tmp_path):
    spec = write_spec(tmp_path / "spec", ROLES + alias_bomb() + "description: *a8\n")
    result = run_janus("validate", spec, timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "expand to more than" in result.stderr
