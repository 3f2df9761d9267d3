"""The original tool's setup.yaml and flags run unchanged, translated with a deprecation note."""

from __future__ import annotations

import shutil

from conftest import FIXTURES, read_jsonl

LEGACY = FIXTURES / "legacy_marriage_counsel"


def test_validate_translates_with_a_note(cli):
    result = cli("validate", LEGACY)
    assert result.exit_code == 0, result.output
    assert "uses the original tool's keys" in result.output
    assert "output_format is ignored" in result.output
    assert "plan: 3 seed requests, 6 derivations (conversation)" in result.output


def test_positional_templates_become_named_ones():
    from janus_core.spec.model import load_spec

    spec = load_spec(LEGACY)
    seed = spec.setup.seed_prompt
    assert "{{ diagram }}" in seed and "{{ direction }}" in seed and "{{ user_role }}" in seed
    assert "# erDiagram" not in seed and "# direction" not in seed  # annotations dropped
    assert "------------------------------" in seed  # the delimiter is inlined
    assert spec.setup.derivational_prompt.count("{{ previous }}") == 1
    assert spec.setup.seed_directions == ["general"]
    assert spec.setup.derivational_directions == ["general", "in-depth"]
    assert spec.setup.description == "Category: marriage counsel"


def test_generate_with_the_original_flags(cli, tmp_path):
    import json

    from servers import ProviderServer

    turn = {"user": "We argue about chores every single week.", "assistant": "Let us list them together."}
    out = tmp_path / "o.jsonl"
    with ProviderServer("openai", lambda body: json.dumps({"turns": [turn]})) as server:
        result = cli("generate", "--target-folder", LEGACY, "--backend-llm", "gpt", "--type", "conversation",
                     "--s-factor", "1", "--d-factor", "1", "--retry-num", "1", "--option",
                     f"base_url={server.base_url}", "--out", out, "-q", "--no-filters",
                     env={"OPENAI_API_KEY": "test-key-1234567890"})
    assert result.exit_code == 0, result.output
    assert len(read_jsonl(out)) == 9
    seed_prompt = server.requests[0]["messages"][-1]["content"]
    assert seed_prompt.startswith("erDiagram\n    COUNSELOR ||--|{ COUNSELEE")
    assert "------------------------------\nThe diagram above sets the scene." in seed_prompt
    assert 'The user plays "COUNSELEE" from the diagram.' in seed_prompt
    assert 'in the direction of "Write' in seed_prompt  # the janus pack's 'general' wording
    assert seed_prompt.rstrip().endswith('{"turns": [{"user": "...", "assistant": "..."}]}.')
    derive_prompt = next(b["messages"][-1]["content"] for b in server.requests
                         if "These are the conversation's first turns" in b["messages"][-1]["content"])
    assert "[COUNSELEE] We argue about chores every single week." in derive_prompt


def test_wrong_number_of_placeholders_is_located(cli, tmp_path):
    spec = tmp_path / "spec"
    shutil.copytree(LEGACY, spec)
    text = (spec / "setup.yaml").read_text().replace('"%s" from the diagram and answers', '"X" from the diagram')
    (spec / "setup.yaml").write_text(text)
    result = cli("validate", spec)
    assert result.exit_code == 1
    assert "setup.yaml:5:3: initial_prompt: expected 5 '%s' placeholders" in result.stderr
    assert "found 4" in result.stderr
