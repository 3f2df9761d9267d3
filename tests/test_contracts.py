"""The plugin contracts: base-class defaults, checked registrations, and one options system."""

from __future__ import annotations

import asyncio
import json
import random

import pytest
from conftest import SAMPLES

from janus_core import Backend, Filter, Options, OptionsError, OutputType, Record, RememberingFilter


def test_output_type_defaults_change_nothing():
    record = Record(messages=[{"role": "user", "content": "hi"}], id="r", seed_id="r", parent_id=None,
                    direction="general", walk={}, model="m", prompt_sha256="0", output_type="x")
    plain = OutputType()
    assert plain.sample(random.Random(0), None) is None
    assert asyncio.run(plain.finish(record, None, random.Random(0))) is record
    parent = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
    assert plain.derive(parent, [{"role": "user", "content": "c"}])[:2] == parent
    assert (plain.grows, plain.grow_direction) == (False, None)


def test_remembering_filter_is_a_filter_with_no_op_defaults():
    f = RememberingFilter()
    assert isinstance(f, Filter)
    assert f.recheck(None, None) is None and f.remember(None, None) is None


def test_backend_options_are_validated_when_built():
    class Opts(Options):
        size: int = 3

    class Sized(Backend):
        name = "sized"
        Options = Opts

    assert Sized().options.size == 3
    assert Sized(options={"size": "7"}).options.size == 7
    with pytest.raises(OptionsError) as caught:
        Sized(options={"size": "big", "colour": "red"})
    assert caught.value.errors == [(("size",), "Input should be a valid integer, unable to parse string as an "
                                    "integer"), (("colour",), "unknown option")]
    assert "(options: size)" in str(caught.value)

    class Bare(Backend):
        name = "bare"

    with pytest.raises(OptionsError, match=r"colour: unknown option \(options: none\)"):
        Bare(options={"colour": "red"})


def test_builtin_backend_options_are_listed_with_their_help(cli):
    rows = {row["name"]: row for row in json.loads(cli("plugins", "--json").output)}
    transport = rows["openai"]["options"]["openai"]["transport"]
    assert transport.startswith("aiohttp (direct and fastest)") and transport.endswith("(default aiohttp)")
    assert set(rows["local"]["options"]["local"]) == {"model_path", "threads", "n_ctx", "sequence_ctx", "top_p",
                                                      "top_k", "repeat_penalty"}
    assert set(rows["gemini"]["options"]["gemini"]) == {"base_url", "api_version", "safety", "timeout",
                                                       "max_reply_bytes"}
    assert rows["filters"]["options"]["length"]["max_words"].startswith("most words in the whole record")
    text = cli("plugins").output
    assert "  litellm options:\n    api_base: server URL" in text


def test_a_bad_setup_yaml_option_is_named_at_its_place(cli, tmp_path):
    spec = tmp_path / "spec"
    spec.mkdir()
    (spec / "diagram.mermaid").write_text((SAMPLES / "marriage_counsel" / "diagram.mermaid").read_text())
    setup = (SAMPLES / "marriage_counsel" / "setup.yaml").read_text()
    setup += "model:\n  backend: openai\n  options:\n    base_url: http://127.0.0.1:9/v1\n    timeout: -1\n"
    (spec / "setup.yaml").write_text(setup)
    line = setup.splitlines().index("    timeout: -1") + 1
    result = cli("generate", spec, "--dry-run")
    assert result.exit_code == 1
    assert f"setup.yaml:{line}:14: model.options.timeout: Input should be greater than 0" in result.stderr
    assert "options of the openai backend: base_url, api_key_env, structured" in result.stderr
    # the same value from --option is named by its flag, and --option wins over setup.yaml
    result = cli("generate", spec, "--dry-run", "--option", "timeout=0")
    assert result.exit_code == 1 and "--option timeout: Input should be greater than 0" in result.stderr
    assert cli("generate", spec, "--dry-run", "--option", "timeout=5").exit_code == 0
