"""The dataset report: every section computed from a crafted dataset, and written as Markdown
with PNG plots."""

from __future__ import annotations

import json

from conftest import SAMPLES

from janus_core.data.report import build_report, distinct_n
from janus_core.run.journal import Journal, journal_path
from janus_core.sdk.records import Record


def _record(i: int, user: str, assistant: str, entities, relationships, direction="general", depth=0, meta=None,
            walk_id=None):
    return Record(messages=[{"role": "system", "content": "Be kind."}, {"role": "user", "content": user},
                            {"role": "assistant", "content": assistant}],
                  id=f"r{i}", seed_id="r0" if depth else f"r{i}", parent_id="r0" if depth else None,
                  direction=direction, walk={"id": walk_id or f"relationship:{relationships[0]}",
                                             "strategy": "relationship", "entities": entities,
                                             "relationships": relationships, "chunks": ["docs/a.md#0"]},
                  model="m", prompt_sha256="0", output_type="instruct", depth=depth, meta=meta or {},
                  usage={"tokens_in": 10, "tokens_out": 5, "cost": 0.001})


def _dataset(tmp_path):
    """Four records about COUNSELOR->COUNSELEE, one a near copy; one failure."""
    out = tmp_path / "o.jsonl"
    journal = Journal(journal_path(out))
    long = "We keep arguing about money every weekend and it ruins our Sunday afternoons together at home"
    rel = "COUNSELOR->COUNSELEE#0"
    records = [
        _record(0, long, "Plan a budget talk.", ["COUNSELEE", "COUNSELOR"], [rel],
                meta={"judge": {"score": 4.5, "rubrics": {"safety": {"score": 5, "feedback": "ok"},
                                                          "helpfulness": {"score": 4, "feedback": "ok"}}}}),
        _record(1, long + "!", "Plan a budget talk.", ["COUNSELEE", "COUNSELOR"], [rel], "in-depth", 1,
                meta={"judge": {"score": 2.5, "rubrics": {"safety": {"score": 3, "feedback": "meh"},
                                                          "helpfulness": {"score": 2, "feedback": "vague"}}}}),
        _record(2, "How do we talk about chores?", "Make a rota.", ["COUNSELEE", "COUNSELOR"], [rel],
                "in-depth", 1),
        _record(3, "Is a weekly session enough?", "Yes, for now.", ["COUNSELEE"], [rel],
                walk_id="neighbourhood:COUNSELEE"),
    ]
    for r in records:
        journal.add_record(f"job{r.id}", r)
    journal.add_failure("jobx", "eliminated:refusal", "sorry", {})
    journal.set_meta("spec", {"name": "marriage_counsel", "folder": str(SAMPLES / "marriage_counsel")})
    journal.set_meta("run", {"spec": "marriage_counsel", "seed": 0, "backend": "openai", "model": "m",
                             "output_type": "instruct"})
    journal.export_jsonl(out)
    journal.close()
    return out


def test_report_sections(tmp_path):
    report = build_report(_dataset(tmp_path))
    assert report["records"] == 4 and report["seeds"] == 2
    assert report["by_direction"] == {"general": 2, "in-depth": 2}
    assert report["by_depth"] == {"0": 2, "1": 2}
    assert report["failures"] == {"eliminated:refusal": 1}
    assert report["near_duplicates"] == 1 and report["near_duplicate_rate"] == 0.25
    assert report["near_duplicates_whole"] == 1 and report["near_duplicate_rate_whole"] == 0.25
    assert report["words_per_record"][2] == 6 + 3  # user and assistant words, not the system message
    assert report["judge"]["judged"] == 2 and report["judge"]["mean"] == 3.5
    assert report["judge"]["by_rubric"] == {"safety": 4.0, "helpfulness": 3.0}
    assert report["documents"] == {"docs/a.md#0": 4}
    cov = report["coverage"]
    assert cov["entities"] == {"COUNSELEE": 4, "COUNSELOR": 3}
    assert cov["entities_without"] == [] and cov["relationships_without"] == []
    assert cov["entity_share"] == 1.0 and cov["relationship_share"] == 1.0
    assert cov["walks_planned"] == 3 and cov["walks_without"] == ["neighbourhood:COUNSELOR"]


def test_distinct_n():
    assert distinct_n(["a b c", "a b d"], 1) == round(4 / 6, 4)
    assert distinct_n(["a b c", "a b d"], 2) == round(3 / 4, 4)
    assert distinct_n([], 2) == 0.0


def test_stats_prints_and_writes_markdown_and_plots(cli, tmp_path):
    out = _dataset(tmp_path)
    result = cli("stats", out)
    assert result.exit_code == 0, result.output
    assert "4 records (2 seeds)" in result.output and "**" not in result.output  # drawn, not raw Markdown
    folder = tmp_path / "o.jsonl.report"
    text = (folder / "report.md").read_text(encoding="utf-8")
    for section in ("Records per output type", "Coverage of the graph", "Entities with no records:",
                    "over what each record adds to its parent (its new turns): 25.0% (1 record)",
                    "over whole records (every turn): 25.0% (1 record)", "user_distinct_2", "Judge scores",
                    "Failures by reason", "Document chunks used"):
        assert section in text, section
    for png in ("lengths.png", "scores.png", "coverage.png"):
        data = (folder / png).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 2000, png
        assert f"]({png})" in text
    as_json = json.loads(cli("stats", out, "--json").output)
    assert as_json["coverage"]["spec"].endswith("marriage_counsel")


def test_report_without_the_spec_lists_what_records_visit(tmp_path, cli):
    out = _dataset(tmp_path)
    journal = Journal(journal_path(out))
    journal.set_meta("spec", {"name": "gone", "folder": str(tmp_path / "gone")})
    journal.close()
    result = cli("stats", out, "--no-report")
    assert "pass --spec to see what has no records" in result.output
    with_spec = cli("stats", out, "--no-report", "--spec", SAMPLES / "marriage_counsel")
    assert "Entities with no records:" in with_spec.output
    assert not (tmp_path / "o.jsonl.report").exists()
