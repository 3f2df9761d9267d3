"""``generate --generation`` (setup.yaml's generation from the command line), and third-party sinks
whose ``__init__`` does not call the base class's."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from conftest import SAMPLES, fake_secret, read_jsonl, run_janus
from servers import OpenAICompatibleServer, chat_completion

FILLER = Path(__file__).resolve().parent / "plugins" / "schema_filler.py"

SETUP = """\
description: Weekly marriage guidance sessions between a counselor and a client.
user_role: COUNSELEE
assistant_role: COUNSELOR
output_type: conversation
seed_directions: [general]
derivational_directions: [in-depth]
limits: {{turns: 2, message_chars: 300}}
model: {{backend: openai, name: m, options: {{base_url: "{url}"}}}}
"""

TSV_SINK = '''
from pathlib import Path

from janus_core import Sink, hookimpl


class TsvSink(Sink):
    name = "tsv"
    suffixes = (".tsv",)

    def __init__(self, path, options=None):  # the base's __init__ is not called
        self.path = Path(path)

    def open(self):
        self.file = self.path.open("w", encoding="utf-8")

    def write(self, records):
        for record in records:
            self.file.write("\\t".join(m["content"].replace("\\t", " ") for m in record.messages) + "\\n")

    def close(self):
        self.file.close()


@hookimpl
def register_sinks(register):
    register(TsvSink)
'''


def plain_reply(body):
    return 200, chat_completion(f"We argue about money, turn {len(body['messages'])}.",
                                model=body["model"]), {}


def test_generation_flag_overrides_setup_yaml(tmp_path):
    """openai writes one JSON reply per record by default; --generation turns asks turn by turn, in plain text."""
    with OpenAICompatibleServer(plain_reply) as server:
        spec = tmp_path / "spec"
        spec.mkdir()
        (spec / "setup.yaml").write_text(SETUP.format(url=server.base_url))
        (spec / "diagram.mermaid").write_text((SAMPLES / "marriage_counsel" / "diagram.mermaid").read_text())
        out = tmp_path / "o.jsonl"
        result = run_janus("generate", spec, "--generation", "turns", "--out", out, "--no-filters", "-q",
                           "--max-seeds", "1", "--d-factor", "0", env={"OPENAI_API_KEY": fake_secret("k")})
    assert result.returncode == 0, result.stderr
    assert server.requests and all("response_format" not in body for body in server.requests)
    with sqlite3.connect(out.with_name(out.name + ".journal.sqlite")) as db:
        run = next(value for key, value in db.execute("select key, value from meta") if key == "run")
    assert '"generation": "turns"' in run
    assert len(read_jsonl(out)) == 1


def test_generation_flag_takes_only_its_two_values(cli):
    result = cli("generate", SAMPLES / "clinic", "--generation", "chat", "--dry-run")
    assert result.exit_code == 2 and "'one-shot'" in result.output and "'turns'" in result.output


def test_sink_without_base_init_exports(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    made = cli("--plugin", FILLER, "generate", SAMPLES / "clinic", "--backend", "schema-filler", "--out", out,
               "-q", "--no-filters", "--max-seeds", "2", "--d-factor", "0")
    assert made.exit_code == 0, made.output
    plugin = tmp_path / "tsv_sink.py"
    plugin.write_text(TSV_SINK)
    to = tmp_path / "x.tsv"
    result = run_janus("export", out, "--to", to, "--sink", "tsv", "--plugin", plugin)
    assert result.returncode == 0, result.stderr
    rows = to.read_text(encoding="utf-8").splitlines()
    assert len(rows) == len(read_jsonl(out)) == 2
    assert f"2 rows -> {to}" in result.stdout


def test_sink_counters_are_class_defaults():
    from janus_core import Sink

    class Bare(Sink):
        def __init__(self):  # no super().__init__()
            pass

    sink = Bare()
    assert (sink.written, sink.skipped, sink.last_skip_reason) == (0, 0, None)
    sink.skipped += 1
    assert sink.skipped == 1 and Sink.skipped == 0 and Bare().skipped == 0
