"""janus_core.generate and janus_core.load_records: the CLI's session from Python, against a stand-in
provider on 127.0.0.1."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import signal

import pytest
from conftest import SAMPLES, fake_secret, read_jsonl
from servers import ProviderServer

import janus_core
from janus_core import JanusError, Record, SpecError

SPEC = SAMPLES / "marriage_counsel_instruct"


def _instructions():
    counter = itertools.count()

    def reply(body):
        return json.dumps({"instruction": f"How do we share chores fairly, case {next(counter)}?",
                           "response": "Write down every chore, then take turns choosing one each."})
    return reply


@pytest.fixture
def provider(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", fake_secret("openai"))
    with ProviderServer("openai", _instructions()) as server:
        yield server


def _generate(server, **settings):
    return janus_core.generate(SPEC, backend="openai", options={"base_url": server.base_url}, d_factor=0,
                               max_seeds=3, concurrency=1, **settings)


def test_generate_returns_the_records_it_wrote_and_their_figures(provider, tmp_path):
    out = tmp_path / "run.jsonl"
    result = _generate(provider, out=out)
    assert result.out == out
    written = read_jsonl(out)
    assert len(result.records) == len(written) == 3
    assert all(isinstance(r, Record) for r in result.records)
    assert [r.id for r in result.records] == [row["id"] for row in written]
    assert result.summary["records"] == 3 and result.requests == len(provider.requests) == 3
    assert result.tokens == 3 * 18  # the stand-in's usage: 11 in, 7 out per reply
    assert result.failures == {}
    assert result.seconds > 0 and result.cost >= 0
    # the same out again continues the journal: nothing is paid twice
    again = _generate(provider, out=out)
    assert len(again.records) == 3 and again.requests == 0 and again.summary["resumed"] == 3


def test_to_dataset_and_load_records_read_back(provider, tmp_path):
    result = _generate(provider)  # out=None: a fresh temporary folder
    assert result.out.exists() and result.out.parent != tmp_path
    dataset = result.to_dataset()
    assert dataset.column_names == ["messages"] and len(dataset) == 3
    assert dataset[0]["messages"] == result.records[0].messages
    # read back: the output (through its journal), and the same file alone (no journal beside it)
    assert [r.id for r in janus_core.load_records(result.out)] == [r.id for r in result.records]
    alone = tmp_path / "copy.jsonl"
    shutil.copy(result.out, alone)
    assert [r.messages for r in janus_core.load_records(alone)] == [r.messages for r in result.records]
    # an export in another shape (messages rows, Parquet) reads back as records of that shape
    dataset.to_parquet(tmp_path / "export.parquet")
    back = janus_core.load_records(tmp_path / "export.parquet")
    assert [r.messages for r in back] == [r.messages for r in result.records]
    assert back[0].meta["format"] == "messages"


def test_load_records_names_a_bad_row(tmp_path):
    bad = tmp_path / "bad.jsonl"
    row = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    bad.write_text(json.dumps(row) + '\n{"nothing": 1}\n')
    with pytest.raises(JanusError, match=r"bad.jsonl:2:1: not a record Janus can read"):
        janus_core.load_records(bad)


def test_a_bad_spec_raises_with_its_file_line_and_column(tmp_path):
    spec = tmp_path / "spec"
    shutil.copytree(SPEC, spec)
    setup = spec / "setup.yaml"
    setup.write_text(setup.read_text().replace("output_type:", "output_typ:", 1))
    with pytest.raises(SpecError) as caught:
        janus_core.generate(spec, out=tmp_path / "o.jsonl")
    line = next(i for i, text in enumerate(setup.read_text().splitlines(), 1) if text.startswith("output_typ:"))
    assert f"setup.yaml:{line}:1: " in str(caught.value)
    assert "output_type" in str(caught.value)  # the did-you-mean the CLI prints too
    assert not (tmp_path / "o.jsonl").exists()


def test_an_unknown_setting_is_named():
    with pytest.raises(JanusError, match=r"no setting 'max_cots'.*Did you mean 'max_cost'"):
        janus_core.generate(SPEC, max_cots=1.0)


def test_generate_works_inside_a_running_event_loop(provider, tmp_path):
    async def in_a_notebook():
        return janus_core.generate(SPEC, backend="openai", options={"base_url": provider.base_url}, d_factor=0,
                                   max_seeds=2, concurrency=1, out=tmp_path / "nb.jsonl")

    result = asyncio.run(in_a_notebook())
    assert len(result.records) == 2 == len(read_jsonl(tmp_path / "nb.jsonl"))


def test_the_cli_continues_what_the_api_wrote(provider, tmp_path, cli):
    out = tmp_path / "run.jsonl"
    _generate(provider, out=out)
    sent = len(provider.requests)
    result = cli("generate", SPEC, "--backend", "openai", "--option", f"base_url={provider.base_url}", "--d-factor",
                 "0", "--max-seeds", "3", "--concurrency", "1", "--out", out, "-q")
    assert result.exit_code == 0, result.output
    assert len(provider.requests) == sent  # the same session: the same journal key, nothing paid twice
    assert len(read_jsonl(out)) == 3


def test_an_unknown_sql_dialect_is_named():
    with pytest.raises(JanusError, match=r"unknown SQL dialect 'postgress'.*Did you mean 'postgres'"):
        janus_core.generate(SAMPLES / "sql_schema", sql_dialect="postgress")


def test_an_interrupt_inside_a_running_event_loop_stops_the_run(monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", fake_secret("openai"))
    answer = _instructions()

    def reply(body):  # a notebook's interrupt (SIGINT) while the first request is answered
        if not interrupted:
            interrupted.append(True)
            os.kill(os.getpid(), signal.SIGINT)
        return answer(body)

    interrupted: list[bool] = []
    out = tmp_path / "nb.jsonl"
    with ProviderServer("openai", reply) as server:
        async def in_a_notebook():
            return _generate(server, out=out)

        loop = asyncio.new_event_loop()  # as a kernel runs one: Python's own SIGINT handler stays
        with pytest.raises(KeyboardInterrupt):
            loop.run_until_complete(in_a_notebook())
        loop.close()
        assert len(server.requests) < 3
        # the run ended (its output is not locked), what it finished is kept, and the same call continues it
        assert len(_generate(server, out=out).records) == 3
        assert len(server.requests) <= 4
