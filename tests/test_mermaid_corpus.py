"""The erDiagram reader against the external Mermaid corpus (../shared/corpora/mermaid-corpus).

Each case says what Mermaid's own grammar does with its text. Valid cases must be read with
Mermaid's meaning (compared by the corpus's own checker, mermaid-check.py), invalid ones refused
with a located error, and nothing may raise anything but a JanusError. Skipped when the corpus
is absent.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
from janus_plugins.erdiagram.parser import parse_erdiagram

from janus_core.plugins import load_plugins
from janus_core.sdk.errors import JanusError

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
CORPUS = CORPORA / "mermaid-corpus"
CHECKER = CORPORA / "mermaid-check.py"

if not (CORPUS.is_dir() and CHECKER.is_file()):
    pytest.skip(f"the Mermaid corpus is not at {CORPUS} (it lives beside the repository, in ../shared)",
                allow_module_level=True)


def _checker():
    spec = importlib.util.spec_from_file_location("mermaid_check", CHECKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CHECK = _checker()
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "expect.json").is_file())
READER = load_plugins().registry.get("diagram_readers", "erdiagram")


def _case(name: str) -> tuple[str, str, dict]:
    folder = CORPUS / name
    text = (folder / "diagram.mermaid").read_text(encoding="utf-8")  # as a spec's diagram is read
    return text, f"{name}/diagram.mermaid", json.loads((folder / "expect.json").read_text(encoding="utf-8"))


def test_the_corpus_is_whole():
    assert len(CASES) >= 600
    families = {_case(name)[2]["family"] for name in CASES}
    assert {"spec", "spec-charset", "docs", "cypress", "github"} <= families


@pytest.mark.parametrize("name", CASES)
def test_case_reads_as_mermaid_does(name):
    text, path, expect = _case(name)
    if expect["valid"]:
        diagram = READER.read(text, path)
        status, why = CHECK.compare(diagram, expect)
        assert status == "ok", why
    else:
        with pytest.raises(JanusError) as info:
            READER.read(text, path)
        first = str(info.value).splitlines()[0]
        assert re.match(rf"{re.escape(path)}:\d+:\d+: \S", first), first


@pytest.mark.parametrize("name", [n for n in CASES if _case(n)[2]["valid"]])
def test_valid_case_round_trips(name):
    text, path, _ = _case(name)
    diagram = parse_erdiagram(text, path)
    again = parse_erdiagram(diagram.to_mermaid(), path)
    assert again == diagram


def test_checker_prints_full_marks(capsys):
    """The corpus's own checker, run in this interpreter, reports full marks and no crash."""
    import argparse

    CHECK.run(argparse.Namespace(corpus=str(CORPUS), family=None, case=None, quiet=True))
    last = capsys.readouterr().out.strip().splitlines()[-1]
    numbers = re.search(r"(\d+) cases, valid accepted (\d+)/(\d+), invalid rejected (\d+)/(\d+), "
                        r"counts right (\d+)/(\d+), crashes (\d+)", last)
    assert numbers, last
    total, accepted, valid, rejected, invalid, right, comparable, crashes = map(int, numbers.groups())
    assert (accepted, rejected, right, crashes) == (valid, invalid, comparable, 0), last
    assert valid + invalid == total
