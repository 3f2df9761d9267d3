"""The erDiagram parser: a corpus of snippets, round trips, comments, and located errors."""

from __future__ import annotations

import pytest
from conftest import SAMPLES
from janus_plugins.erdiagram.parser import parse_erdiagram

from janus_core.sdk.errors import SpecError

# (snippet, entity names, [(left, right, left card, right card, identifying, label)])
CORPUS = [
    ("erDiagram\n  A ||--|| B : x", ["A", "B"], [("A", "B", "exactly-one", "exactly-one", True, "x")]),
    ("erDiagram\n  A |o--o| B : x", ["A", "B"], [("A", "B", "zero-or-one", "zero-or-one", True, "x")]),
    ("erDiagram\n  A }o--o{ B : x", ["A", "B"], [("A", "B", "zero-or-more", "zero-or-more", True, "x")]),
    ("erDiagram\n  A }|--|{ B : x", ["A", "B"], [("A", "B", "one-or-more", "one-or-more", True, "x")]),
    ("erDiagram\n  A o|..|| B : x", ["A", "B"], [("A", "B", "zero-or-one", "exactly-one", False, "x")]),
    ("erDiagram\n  A ||..o{ B : \"has many\"", ["A", "B"],
     [("A", "B", "exactly-one", "zero-or-more", False, "has many")]),
    ("erDiagram\n  CUSTOMER ||--o{ ORDER : places\n  ORDER ||--|{ LINE-ITEM : contains",
     ["CUSTOMER", "ORDER", "LINE-ITEM"],
     [("CUSTOMER", "ORDER", "exactly-one", "zero-or-more", True, "places"),
      ("ORDER", "LINE-ITEM", "exactly-one", "one-or-more", True, "contains")]),
    ("erDiagram\n  CAR 1 to zero or more NAMED-DRIVER : allows", ["CAR", "NAMED-DRIVER"],
     [("CAR", "NAMED-DRIVER", "exactly-one", "zero-or-more", True, "allows")]),
    ("erDiagram\n  A one or more optionally to only one B : x", ["A", "B"],
     [("A", "B", "one-or-more", "exactly-one", False, "x")]),
    ("erDiagram\n  A zero or one to one or many B : x", ["A", "B"],
     [("A", "B", "zero-or-one", "one-or-more", True, "x")]),
    ("erDiagram\n  A one or zero to zero or many B : x", ["A", "B"],
     [("A", "B", "zero-or-one", "zero-or-more", True, "x")]),
    ("erDiagram\n  A many(0) to many(1) B : x", ["A", "B"],
     [("A", "B", "zero-or-more", "one-or-more", True, "x")]),
    ("erDiagram\n  A 0+ optionally to 1+ B : x", ["A", "B"],
     [("A", "B", "zero-or-more", "one-or-more", False, "x")]),
    ("erDiagram\n  \"Person Record\" ||--o{ \"Home Address\" : \"lives at\"", ["Person Record", "Home Address"],
     [("Person Record", "Home Address", "exactly-one", "zero-or-more", True, "lives at")]),
    ("erDiagram\n  p[\"Person\"] {\n    string name\n  }\n  p ||--o{ a : owns", ["p", "a"],
     [("p", "a", "exactly-one", "zero-or-more", True, "owns")]),
    ("erDiagram\n  CUSTOMER {\n    string name PK \"the key\"\n    int id PK, FK\n    string email UK\n  }",
     ["CUSTOMER"], []),
    ("erDiagram\n  direction LR\n  A ||--o{ B : x", ["A", "B"], [("A", "B", "exactly-one", "zero-or-more", True, "x")]),
    ("---\ntitle: Shop\n---\nerDiagram\n  A ||--o{ B : x", ["A", "B"],
     [("A", "B", "exactly-one", "zero-or-more", True, "x")]),
    ("%% leading comment\nerDiagram\n  A ||--o{ B : x\n  %% Frequency: Weekly", ["A", "B"],
     [("A", "B", "exactly-one", "zero-or-more", True, "x")]),
    ("erDiagram\n  A ||--o{ B : \"\"", ["A", "B"], [("A", "B", "exactly-one", "zero-or-more", True, "")]),
    ("erDiagram\n  LONELY", ["LONELY"], []),
    ("erDiagram\n  A:::hot ||--o{ B : x\n  classDef hot fill:#f96\n  accTitle: Orders", ["A", "B"],
     [("A", "B", "exactly-one", "zero-or-more", True, "x")]),
    ("erDiagram\n\n\n  A ||--o{ B : x\n\n", ["A", "B"], [("A", "B", "exactly-one", "zero-or-more", True, "x")]),
    ("erDiagram\n  A ||--o{ A : \"refers to\"", ["A"], [("A", "A", "exactly-one", "zero-or-more", True, "refers to")]),
    ("erDiagram\n  A { string x }\n  B {\n    varchar(255) title\n    decimal(10,2) price\n  }", ["A", "B"], []),
    ("%%{init: {'theme': 'dark'}}%%\nerDiagram\n  A ||--|{ B : x", ["A", "B"],
     [("A", "B", "exactly-one", "one-or-more", True, "x")]),
]


@pytest.mark.parametrize("text, entities, relationships", CORPUS, ids=[f"snippet{i}" for i in range(len(CORPUS))])
def test_corpus_parses_and_round_trips(text, entities, relationships):
    diagram = parse_erdiagram(text)
    assert list(diagram.entities) == entities
    got = [(r.left, r.right, r.left_cardinality, r.right_cardinality, r.identifying, r.label)
           for r in diagram.relationships]
    assert got == relationships
    again = parse_erdiagram(diagram.to_mermaid())
    assert again == diagram
    assert again.to_mermaid() == diagram.to_mermaid()


def test_corpus_is_large_enough():
    assert len(CORPUS) >= 20


@pytest.mark.parametrize("sample", sorted(p.name for p in SAMPLES.iterdir() if (p / "diagram.mermaid").is_file()))
def test_samples_round_trip(sample):
    diagram = parse_erdiagram((SAMPLES / sample / "diagram.mermaid").read_text())
    assert diagram.entities
    assert parse_erdiagram(diagram.to_mermaid()) == diagram


def test_comments_attach_to_preceding_relationship_as_details():
    d = parse_erdiagram((SAMPLES / "marriage_counsel" / "diagram.mermaid").read_text())
    rel = d.relationships[0]
    assert rel.details == {"Start date": "2024-02-14", "Frequency": "Weekly", "Topic": "marriage guidance"}
    assert rel.notes == []
    assert d.entities["COUNSELEE"].details == {"Homework": "a 10-minute check-in with the partner every evening"}


def test_comments_attach_to_preceding_entity_and_inside_blocks():
    d = parse_erdiagram("erDiagram\n  A {\n    string x\n    %% Owner: ops\n  }\n  %% Tier: gold\n"
                        "  A ||--o{ B : has\n  %% Why: audit\n")
    assert d.entities["A"].details == {"Owner": "ops", "Tier": "gold"}
    assert d.relationships[0].details == {"Why": "audit"}
    assert d.entities["B"].details == {}


def test_attributes_keys_comments_and_alias():
    d = parse_erdiagram('erDiagram\n  p["Person"] {\n    string name PK "full name"\n    int id PK, FK\n  }')
    e = d.entities["p"]
    assert e.alias == "Person"
    assert [(a.type, a.name, a.keys, a.comment) for a in e.attributes] == [
        ("string", "name", ("PK",), "full name"), ("int", "id", ("PK", "FK"), None)]


def test_title_and_direction():
    d = parse_erdiagram("---\ntitle: The shop\n---\nerDiagram\n  direction RL\n  A ||--o{ B : x")
    assert (d.title, d.direction) == ("The shop", "RL")
    d2 = parse_erdiagram("erDiagram\n  title Orders and customers\n  A ||--o{ B : x")
    assert d2.title == "Orders and customers"


def test_positions_are_recorded():
    d = parse_erdiagram("erDiagram\n\n    A ||--o{ B : x")
    assert (d.relationships[0].line, d.relationships[0].column) == (3, 5)
    assert (d.entities["B"].line, d.entities["B"].column) == (3, 14)


@pytest.mark.parametrize("text, where, words", [
    ("erDiagram\n  A |x--o{ B : y", "t.mermaid:2:5", "bad left cardinality '|x'"),
    ("erDiagram\n  A ||--ox B : y", "t.mermaid:2:9", "bad right cardinality 'ox'"),
    ("erDiagram\n  A {\n    string x\n", "t.mermaid:2:5", "never closed"),
    ("graph TD\n  A-->B", "t.mermaid:1:1", "expected 'erDiagram'"),
    ("erDiagram\n  A ||--o{ B : \"open", "t.mermaid:2:16", "unterminated quoted string"),
    ("erDiagram\n  A {\n    string\n  }", "t.mermaid:3:5", "attribute 'string' of A has a type but no name"),
    ("   \n", "t.mermaid:1:1", "empty"),
])
def test_errors_name_line_and_column(text, where, words):
    with pytest.raises(SpecError) as info:
        parse_erdiagram(text, "t.mermaid")
    message = str(info.value)
    assert message.startswith(where), message
    assert words in message


# Mermaid's own reading (its lexer and grammar), beyond Janus's first corpus above
MERMAID_READINGS = [
    ("erDiagram\n  A one to many B : x", ["A", "B"], [("A", "B", "exactly-one", "zero-or-more", True, "x")]),
    ("erDiagram\n  A |o.-o{ B : x\n  C }|-.|| D : y", ["A", "B", "C", "D"],
     [("A", "B", "zero-or-one", "zero-or-more", False, "x"), ("C", "D", "one-or-more", "exactly-one", False, "y")]),
    ("erDiagram\n  PROJECT u--o{ TEAM_MEMBER : parent", ["PROJECT", "TEAM_MEMBER"],
     [("PROJECT", "TEAM_MEMBER", "md-parent", "zero-or-more", True, "parent")]),
    ("erDiagram\n  A B C", ["A", "B", "C"], []),
    ("erDiagram\n  A ||--o{ B : places order", ["A", "B", "order"], [("A", "B", "exactly-one", "zero-or-more", True,
                                                                   "places")]),
    ("erDiagram\n  item.2*x ||--|| \"Ünï ✓\" : x\n  12.5", ["item.2*x", "Ünï ✓", "12.5"],
     [("item.2*x", "Ünï ✓", "exactly-one", "exactly-one", True, "x")]),
    ("erDiagram\n  A:::hot,cold ||--o{ B:::cold : x\n  class A,B warm\n  classDef hot fill:#f96,stroke:#333\n"
     "  style B fill:#0f0;\n", ["A", "B"], [("A", "B", "exactly-one", "zero-or-more", True, "x")]),
    ("%%{\n  init: {\n    'theme': 'forest'\n  }\n}%%\nerDiagram\n  accDescr {\n    two lines\n  }\n  A",
     ["A"], []),
    ("erDiagram\n  direction TB\n  ONE_A[\"First\"]\n  ONE_A[\"Second\"]", ["ONE_A"], []),
]


@pytest.mark.parametrize("text, entities, relationships", MERMAID_READINGS,
                         ids=[f"reading{i}" for i in range(len(MERMAID_READINGS))])
def test_mermaid_readings(text, entities, relationships):
    diagram = parse_erdiagram(text)
    assert list(diagram.entities) == entities
    got = [(r.left, r.right, r.left_cardinality, r.right_cardinality, r.identifying, r.label)
           for r in diagram.relationships]
    assert got == relationships
    assert parse_erdiagram(diagram.to_mermaid()) == diagram


def test_first_alias_stays_as_in_mermaid():
    assert parse_erdiagram('erDiagram\n  A["First"]\n  A["Second"]').entities["A"].alias == "First"


def test_generic_types_and_keys_in_any_case():
    d = parse_erdiagram('erDiagram\n  A {\n    List~Item~ items pk, Fk "c"\n    *int id\n  }')
    assert [(a.type, a.name, a.keys, a.comment) for a in d.entities["A"].attributes] == [
        ("List~Item~", "items", ("PK", "FK"), "c"), ("*int", "id", (), None)]


def test_comment_before_the_first_entity_belongs_to_the_diagram():
    d = parse_erdiagram("erDiagram\n  %% Domain: billing\n  %% drawn by hand\n  A ||--o{ B : x\n  %% Why: audit")
    assert (d.details, d.notes) == ({"Domain": "billing"}, ["drawn by hand"])
    assert d.relationships[0].details == {"Why": "audit"}
    assert parse_erdiagram(d.to_mermaid()) == d


def test_a_diagram_without_entities_parses():
    assert parse_erdiagram("erDiagram\n  %% nothing yet\n").entities == {}


@pytest.mark.parametrize("text, where, words", [
    ("erDiagram\n  BRANCH ||--o{ CLASS : has", "t.mermaid:2:17", "'CLASS' is a Mermaid keyword"),
    ("erDiagram\n  A ||--o{ B : x %% why", "t.mermaid:2:18", "lines of their own"),
    ("erDiagram\n  A xxx B : has", "t.mermaid:2:11", "malformed relationship"),
    ('erDiagram\n  "Blo%rf"', "t.mermaid:2:3", "unexpected"),
    ("erDiagram\n  A {\n    string -author\n  }", "t.mermaid:3:12", "unexpected '-'"),
    ("erDiagram\n  A ||--o{ B : x\n  style A fill:#f00,stroke-width:2.5px", "t.mermaid:3:35", "unexpected '.'"),
    ("```mermaid\nerDiagram\n  A\n```", "t.mermaid:1:1", "expected 'erDiagram'"),
])
def test_what_mermaid_refuses_is_refused_with_a_place(text, where, words):
    with pytest.raises(SpecError) as info:
        parse_erdiagram(text, "t.mermaid")
    message = str(info.value)
    assert message.startswith(where), message
    assert words in message


# Each message in plain words, at the line of its cause (issue 24, item 6)
PLAIN_MESSAGES = [
    # the parser stops at the end of a line: said as "end of line", not "the end of the line"
    ("erDiagram\n  A {\n    int id PK,\n  }", "t.mermaid:3:15",
     "bad attribute line 'int id PK,' in the block of A (opened at line 2): unexpected end of line"),
    # attribute lines inside a block are attribute lines, never a "malformed relationship"
    ("erDiagram\n  A {\n    string name PK|FK\n  }", "t.mermaid:3:19",
     "bad attribute line 'string name PK|FK' in the block of A (opened at line 2): unexpected '|'"),
    ("erDiagram\n  A {\n    string name {x}\n  }", "t.mermaid:3:17",
     "bad attribute line 'string name {x}' in the block of A (opened at line 2): unexpected '{'"),
    ("erDiagram\n  A {\n    int id\n  A }o--|| B : x\n  }", "t.mermaid:4:5",
     "a relationship 'A }o--|| B : x' inside the attribute block of A (opened at line 2)"),
    ('erDiagram\n  A {\n    int id "unclosed\n  }', "t.mermaid:3:12", "unterminated quoted comment"),
    # a type without a name: Mermaid takes the next line's type as its name, so the parser fails
    # at the block's end, four lines below the cause
    ("erDiagram\n  A {\n    string\n    int id\n    int b\n    int c\n  }", "t.mermaid:3:5",
     "attribute 'string' of A has a type but no name"),
    # a block without its '{': the cause is the entity line, not the '}' four lines below
    ("erDiagram\n  A ||--o{ B : x\n  A\n    int id\n    int b\n  }", "t.mermaid:3:4",
     "the attribute block of A has no '{' (its '}' is at line 6)"),
    ("erDiagram\n  A {\n    int id\n  }\n  }", "t.mermaid:5:3", "a '}' that closes no attribute block"),
    # a block never closed: reported where it opens, saying so
    ("erDiagram\n  A {\n    int id\n    int b\n  B ||--o{ C : x", "t.mermaid:2:5",
     "the attribute block of A opened at line 2 is never closed"),
]


@pytest.mark.parametrize("text, where, words", PLAIN_MESSAGES, ids=[f"message{i}" for i in range(len(PLAIN_MESSAGES))])
def test_messages_are_plain_and_point_at_the_cause(text, where, words):
    with pytest.raises(SpecError) as info:
        parse_erdiagram(text, "t.mermaid")
    message = str(info.value)
    assert message.startswith(f"{where}: {words}"), message
    assert "the end of the line" not in message and "malformed relationship" not in message


def test_a_second_close_names_the_block_it_already_closed():
    with pytest.raises(SpecError) as info:
        parse_erdiagram("erDiagram\n  A {\n    int id\n  }\n  }", "t.mermaid")
    assert "the block of A (opened at line 2) was already closed at line 4, column 3" in str(info.value)
