"""The embedded default writes readable records (turn by turn), on a bundled sample and on a spec it
has never seen."""

from __future__ import annotations

import pytest
from conftest import SAMPLES, has_local_model, read_jsonl, run_janus

pytestmark = [pytest.mark.local_model,
              pytest.mark.skipif(not has_local_model(), reason="needs the 'local' extra (llama-cpp-python)")]

def readable(record: dict) -> bool:
    """Every non-system turn: 3+ words, ordinary English words among them, no runaway token (the
    text-quality filter's own check)."""
    from janus_plugins.filters.quality import readable as check

    return check(record)[0]


@pytest.mark.parametrize("record, expected", [
    ({"messages": [{"role": "user", "content": "user1234567"}, {"role": "assistant", "content": "Au" * 120}]}, False),
    ({"messages": [{"role": "user", "content": "Emma"}, {"role": "assistant", "content": "Sally"}]}, False),
    ({"messages": [{"role": "system", "content": "x"}, {"role": "user", "content": "Can we talk about money?"},
                   {"role": "assistant", "content": "Yes, tell me what worries you."}]}, True),
])
def test_the_check_itself(record, expected):
    assert readable(record) is expected


def unseen_spec(folder):
    folder.mkdir()
    (folder / "setup.yaml").write_text("description: A small bakery takes orders for birthday cakes and bread.\n"
                                       "user_role: CUSTOMER\nassistant_role: BAKER\noutput_type: conversation\n")
    (folder / "diagram.mermaid").write_text("erDiagram\n  CUSTOMER ||--o{ ORDER : places\n"
                                            "  BAKER ||--o{ ORDER : bakes\n"
                                            "  ORDER ||--|{ CAKE : contains\n  CAKE { string flavour }\n")
    return folder


@pytest.mark.parametrize("spec", ["marriage_counsel", "unseen"])
def test_at_least_80_percent_of_records_are_readable(tmp_path, spec):
    folder = unseen_spec(tmp_path / "bakery") if spec == "unseen" else SAMPLES / spec
    out = tmp_path / "o.jsonl"
    result = run_janus("generate", folder, "--out", out, "-q", "--no-filters", "--max-seeds", "3",
                       env={"HF_HUB_OFFLINE": "1", "OPENAI_API_KEY": ""})
    assert result.returncode == 0, result.stderr
    records = read_jsonl(out)
    assert len(records) >= 3
    good = sum(map(readable, records))
    assert good >= 0.8 * len(records), [r["messages"] for r in records if not readable(r)]
