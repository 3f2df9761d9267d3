"""The hf-hub sink and ``janus push``, against a stand-in for the Hub API on 127.0.0.1 (hub_server.py)."""

from __future__ import annotations

import hashlib
import io
import json
import random

import pytest
from conftest import SAMPLES, fake_secret, read_jsonl
from hub_server import HubFault, HubServer
from servers import ProviderServer

from janus_core.sdk.records import FIELD_HELP, PROVENANCE

SPEC = SAMPLES / "marriage_counsel_instruct"
VOCAB = [f"w{i}" for i in range(5000)]
OPENAI_ENV = {"OPENAI_API_KEY": "k-0123456789"}


@pytest.fixture
def hub(monkeypatch):
    """The stand-in Hub, with HF_ENDPOINT and HF_TOKEN pointing at it."""
    import huggingface_hub.constants

    # huggingface_hub's user-agent telemetry would look something up on its default endpoint
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_TELEMETRY", True)
    with HubServer() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("HF_TOKEN", server.token)
        yield server
    assert server.unrouted == []


def _unique_reply(body):
    """A different instruction for every request, the same one for the same request."""
    rng = random.Random(hashlib.sha256(json.dumps(body["messages"]).encode()).hexdigest())
    return json.dumps({"instruction": "How should we plan " + " ".join(rng.choice(VOCAB) for _ in range(40)),
                       "response": "Here is what I would do: " + " ".join(rng.choice(VOCAB) for _ in range(40))})


def generate(cli, out, seeds, reply=_unique_reply, *extra):
    with ProviderServer("openai", reply) as server:
        result = cli("generate", SPEC, "--backend", "openai", "--option", f"base_url={server.base_url}",
                     "--d-factor", "0", "--max-seeds", seeds, "--concurrency", "1", "--out", out, "-q", *extra,
                     env=OPENAI_ENV)
    assert result.exit_code == 0, result.output
    return read_jsonl(out)


def parquet_rows(data: bytes) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(io.BytesIO(data)).to_pylist()


def data_files(repo) -> dict[str, bytes]:
    return {p: d for p, d in repo.files.items() if p.startswith("data/")}


@pytest.fixture
def run(cli, tmp_path):
    out = tmp_path / "run.jsonl"
    return out, generate(cli, out, 3)


def test_push_creates_a_private_dataset_with_card_and_spec(cli, hub, run):
    from huggingface_hub import DatasetCard

    out, records = run
    result = cli("push", out, "me/counsel")
    assert result.exit_code == 0, result.output
    assert "uploaded 3 messages rows" in result.output and "(private)" in result.output
    repo = hub.repos["me/counsel"]
    assert repo.private
    (name, data), = data_files(repo).items()
    assert name.startswith("data/train-") and name.endswith(".parquet")
    assert [r["messages"] for r in parquet_rows(data)] == [r["messages"] for r in records]
    # the spec folder beside the data
    assert repo.files["spec/setup.yaml"] == (SPEC / "setup.yaml").read_bytes()
    assert repo.files["spec/diagram.mermaid"] == (SPEC / "diagram.mermaid").read_bytes()
    # the card: front matter with the split, then spec, configuration, report and provenance
    text = repo.files["README.md"].decode()
    card = DatasetCard(text)
    assert card.data.configs == [{"config_name": "default",
                                  "data_files": [{"split": "train", "path": "data/train-*.parquet"}]}]
    assert "synthetic" in card.data.tags
    assert "## Spec" in text and "user_role: COUNSELEE" in text and "```mermaid\nerDiagram" in text
    assert "## Run configuration" in text and "| backend | openai |" in text and "| seed | 0 |" in text
    assert "| filters | " in text and "| max_seeds | 3 |" in text
    assert "## Report" in text and "holds 3 records (3 seeds)" in text
    assert "| general |" in text and "| instruct | 3 |" in text and "| Failure | Requests |" in text
    for name in PROVENANCE:
        assert f"| `{name}` | no | {FIELD_HELP[name]}" in text
    # the token went only into Authorization headers
    assert set(hub.auth) == {f"Bearer {hub.token}"}
    assert all(hub.token.encode() not in blob for blob in repo.files.values())
    assert hub.token not in result.output


def test_a_second_push_uploads_nothing(cli, hub, run):
    out, _records = run
    assert cli("push", out, "me/counsel").exit_code == 0
    commits = len(hub.repos["me/counsel"].commits)
    again = cli("push", out, "me/counsel")
    assert again.exit_code == 0, again.output
    assert "already holds all 3 rows: nothing uploaded" in again.output
    assert len(hub.repos["me/counsel"].commits) == commits
    assert not hub.writes()[1:]  # one commit in all


def test_a_grown_run_appends_only_its_new_records(cli, hub, tmp_path):
    out = tmp_path / "run.jsonl"
    generate(cli, out, 2)
    assert cli("push", out, "me/counsel", "--format", "janus").exit_code == 0
    first = dict(data_files(hub.repos["me/counsel"]))
    records = generate(cli, out, 5)  # the same command with more seeds continues the run
    assert len(records) == 5
    result = cli("push", out, "me/counsel", "--format", "janus")
    assert result.exit_code == 0, result.output
    assert "uploaded 3 janus rows" in result.output and "2 rows were there already" in result.output
    files = data_files(hub.repos["me/counsel"])
    assert len(files) == 2 and all(files[p] == d for p, d in first.items())  # earlier files untouched
    rows = [row for p in sorted(files) for row in parquet_rows(files[p])]
    assert sorted(r["id"] for r in rows) == sorted(r["id"] for r in records)
    assert json.loads(rows[0]["walk"])["entities"]  # provenance kept, nested fields as JSON text
    assert "train 5 rows" in result.output
    assert "| train | 5 |" in hub.repos["me/counsel"].files["README.md"].decode()


def test_another_format_is_refused_unless_replaced(cli, hub, run):
    out, records = run
    assert cli("push", out, "me/counsel").exit_code == 0
    commits = len(hub.repos["me/counsel"].commits)
    refused = cli("push", out, "me/counsel", "--format", "sharegpt")
    assert refused.exit_code == 1
    assert "holds messages rows" in refused.stderr and "--format messages" in refused.stderr
    assert "--replace" in refused.stderr
    assert len(hub.repos["me/counsel"].commits) == commits
    replaced = cli("push", out, "me/counsel", "--format", "sharegpt", "--replace")
    assert replaced.exit_code == 0, replaced.output
    assert "replaced 1 earlier data file" in replaced.output
    (data,) = data_files(hub.repos["me/counsel"]).values()
    rows = parquet_rows(data)
    assert len(rows) == len(records) and all("conversations" in r and "messages" not in r for r in rows)
    assert hub.repos["me/counsel"].commits[-1][1].startswith("Replace the data with 3 rows")


def test_data_a_person_put_there_is_never_overwritten_silently(cli, hub, run):
    out, _records = run
    hub.add_dataset("me/mine", {"train.csv": b"text\nhello\n"})
    refused = cli("push", out, "me/mine")
    assert refused.exit_code == 1 and "train.csv" in refused.stderr and "--replace" in refused.stderr
    assert set(hub.repos["me/mine"].files) == {".gitattributes", "train.csv"}


def test_push_needs_hf_token(cli, hub, run, monkeypatch):
    out, _records = run
    monkeypatch.delenv("HF_TOKEN")
    result = cli("push", out, "me/counsel")
    assert result.exit_code == 1
    assert "HF_TOKEN" in result.stderr and "environment" in result.stderr
    assert hub.requests == []


def test_the_token_never_shows_in_errors(cli, hub, run):
    out, _records = run
    hub.faults.append(HubFault(403, "the token {token} may not write to this namespace"))
    result = cli("push", out, "me/counsel")
    assert result.exit_code == 1
    assert "may not write to this namespace" in result.stderr and "***" in result.stderr
    assert hub.token not in result.output and hub.token not in result.stderr
    bad = fake_secret("wrong-hub-token")
    wrong = cli("push", out, "me/counsel", env={"HF_TOKEN": bad})
    assert wrong.exit_code == 1 and bad not in wrong.output


def test_export_to_the_hub_with_an_eval_split(cli, hub, tmp_path):
    out = tmp_path / "run.jsonl"
    records = generate(cli, out, 8)
    result = cli("export", out, "--sink", "hf-hub", "--to", "team/counsel", "--format", "janus",
                 "--eval-fraction", "0.5")
    assert result.exit_code == 0, result.output
    repo = hub.repos["team/counsel"]
    assert repo.private
    files = data_files(repo)
    splits = {p.split("/")[1].split("-")[0]: parquet_rows(d) for p, d in files.items()}
    assert set(splits) == {"train", "test"}
    assert sum(map(len, splits.values())) == len(records)
    assert {r["seed_id"] for r in splits["train"]}.isdisjoint({r["seed_id"] for r in splits["test"]})
    assert "split: test" in repo.files["README.md"].decode()
    again = cli("export", out, "--sink", "hf-hub", "--to", "team/counsel", "--format", "messages")
    assert again.exit_code == 1 and "--overwrite" in again.stderr


def test_public_only_when_asked(cli, hub, run):
    out, _records = run
    assert cli("push", out, "me/open", "--public").exit_code == 0
    assert not hub.repos["me/open"].private


def test_push_of_a_file_without_journal_says_what_the_card_lacks(cli, hub, run, tmp_path):
    out, _records = run
    bare = tmp_path / "bare.jsonl"
    bare.write_text(out.read_text())
    result = cli("push", bare, "me/bare", "--spec", SPEC)
    assert result.exit_code == 0, result.output
    text = hub.repos["me/bare"].files["README.md"].decode()
    assert "user_role: COUNSELEE" in text and "has no journal" in text
    assert "spec/setup.yaml" in hub.repos["me/bare"].files


def test_against_a_hub_dataset(cli, hub, tmp_path):
    """As test_dedup's --against FILE: nothing new may repeat what a dataset on the Hub holds."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    base = "Please help us plan: " + " ".join(f"task{i}" for i in range(100))
    texts = [base, "What should we do when my mother visits for a month"]
    answer = "A fitting and careful answer to that request."
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist([{"messages": [{"role": "user", "content": texts[1]},
                                                       {"role": "assistant", "content": answer}]}]), buffer)
    hub.add_dataset("someone/old", {"data/train-00000-of-00001.parquet": buffer.getvalue()}, private=True)
    replies = iter([texts[1], texts[0]])
    out = tmp_path / "o.jsonl"
    kept = generate(cli, out, 2, lambda body: json.dumps({"instruction": next(replies), "response": answer}),
                    "--against", "someone/old")
    assert [r["messages"][0]["content"] for r in kept] == [texts[0]]
    assert any(p.endswith("/resolve/" + hub.repos["someone/old"].sha + "/data/train-00000-of-00001.parquet")
               for _m, p in hub.requests)


def test_against_checks_its_value(cli, tmp_path):
    result = cli("generate", SPEC, "--against", "no-such-file", "--dry-run")
    assert result.exit_code == 2 and "owner/name" in result.output
