"""Diagram -> graph, walk strategies, coverage and plain-words descriptions."""

from __future__ import annotations

from conftest import SAMPLES
from janus_plugins.erdiagram.parser import parse_erdiagram

from janus_core.plan.graph import build_graph, by_path, by_random_walk, coverage, plan

CLINIC = parse_erdiagram((SAMPLES / "clinic" / "diagram.mermaid").read_text())


def test_graph_holds_entities_relationships_and_details():
    g = build_graph(CLINIC)
    assert g.number_of_nodes() == 6 and g.number_of_edges() == 6
    assert [a.name for a in g.nodes["PATIENT"]["attributes"]] == ["name", "age", "insurance"]
    assert g.nodes["PATIENT"]["details"] == {"Languages": "English, Spanish"}
    edge = g.edges["RECEPTIONIST", "APPOINTMENT", 0]
    assert edge["label"] == "books"
    assert (edge["left_cardinality"], edge["right_cardinality"]) == ("exactly-one", "zero-or-more")
    assert edge["details"] == {"Channel": "phone or walk-in", "Busiest": "Monday mornings"}
    assert g.edges["PATIENT", "DOCTOR", 5]["identifying"] is False


def test_default_plan_covers_everything():
    g = build_graph(CLINIC)
    contexts = plan(g)
    assert coverage(g, contexts) == (set(), set())
    kinds = {c.strategy for c in contexts}
    assert kinds == {"relationship", "neighbourhood"}
    assert len(contexts) == 6 + 6


def test_cover_fills_what_a_strategy_missed():
    d = parse_erdiagram("erDiagram\n  A ||--o{ B : x\n  B ||--o{ C : y\n  LONELY")
    g = build_graph(d)
    only_paths = plan(g, ["path"], cover=False)
    assert coverage(g, only_paths)[0] == {"LONELY"}
    covered = plan(g, ["path"])
    assert coverage(g, covered) == (set(), set())


def test_paths_are_simple_unique_and_bounded():
    g = build_graph(CLINIC)
    paths = list(by_path(g, max_path_length=3))
    assert paths
    for c in paths:
        assert 2 <= len(c.edges) <= 3
        assert len(set(c.entities)) == len(c.entities) == len(c.edges) + 1
    keys = [tuple(e[2] for e in c.edges) for c in paths]
    assert len({min(k, k[::-1]) for k in keys}) == len(keys)


def test_random_walks_are_seeded():
    g = build_graph(CLINIC)
    a = [c.id for c in by_random_walk(g, random_walks=5, seed=1)]
    b = [c.id for c in by_random_walk(g, random_walks=5, seed=1)]
    c = [c.id for c in by_random_walk(g, random_walks=5, seed=2)]
    assert a == b and a != c and len(a) == 5


def test_description_in_plain_words():
    g = build_graph(parse_erdiagram((SAMPLES / "marriage_counsel" / "diagram.mermaid").read_text()))
    context = plan(g)[0]
    assert context.description == (
        "Entities:\n"
        "- COUNSELOR has method (string): one communication skill practised each week; session (string): 50 "
        "minutes on Tuesday evenings; the first one is free. Details: Confidentiality: nothing leaves the room "
        "unless someone is at risk of harm\n"
        "- COUNSELEE has concern (string): money, communication or trust; years_married (int): between 2 and 15 "
        "years. Details: Homework: a 10-minute check-in with the partner every evening\nRelationships:\n"
        "- COUNSELOR provides counseling to COUNSELEE: each COUNSELOR is linked to one or more COUNSELEE, "
        "and each COUNSELEE to exactly one COUNSELOR. Details: Start date: 2024-02-14; Frequency: Weekly; "
        "Topic: marriage guidance")


def test_entity_description_lists_attributes():
    g = build_graph(CLINIC)
    text = next(c for c in plan(g) if c.id == "neighbourhood:DOCTOR").description
    assert "DOCTOR has specialty (string, primary key): general practice, paediatrics; availability (string)" in text
    assert "(a loose, non-identifying link)" in text
