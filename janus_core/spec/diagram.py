"""The Diagram every diagram reader produces: entities, attributes, relationships, details.

Readers are plugins (``register_diagram_readers``): the erdiagram plugin reads Mermaid, the sql
plugin SQL DDL. ``Diagram.to_mermaid()`` writes any diagram as canonical Mermaid text, which the
prompts show the model. Details come from ``%%`` comments (``%% Frequency: Weekly`` becomes
``details["Frequency"] = "Weekly"``; a comment without a colon becomes a note). Names are kept in
Unicode's NFC form (``nfc``), so 'CAFÉ' typed with a combining accent is the same name as 'CAFÉ'.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import yaml

#: Canonical cardinality names, with the marker each takes on the left and right of a line.
CARDINALITIES = {
    "zero-or-one": ("|o", "o|"),
    "exactly-one": ("||", "||"),
    "zero-or-more": ("}o", "o{"),
    "one-or-more": ("}|", "|{"),
    "md-parent": ("u", "u"),  # Mermaid's 'u' (a parent); Mermaid reads it on the left only
}
SYMBOLS = {"|o": "zero-or-one", "o|": "zero-or-one", "||": "exactly-one", "}o": "zero-or-more",
            "o{": "zero-or-more", "}|": "one-or-more", "|{": "one-or-more"}
_PHRASES = {"zero-or-one": "zero or one", "exactly-one": "exactly one",
            "zero-or-more": "zero or more", "one-or-more": "one or more", "md-parent": "a parent"}


def nfc(name: str) -> str:
    """A name in Unicode's NFC form: every reader and setup.yaml compare names this way."""
    return unicodedata.normalize("NFC", name)


def cardinality_phrase(name: str) -> str:
    """'one-or-more' -> 'one or more'."""
    return _PHRASES[name]


@dataclass
class Attribute:
    type: str
    name: str
    keys: tuple[str, ...] = ()
    comment: str | None = None


@dataclass
class Entity:
    name: str
    alias: str | None = None
    attributes: list[Attribute] = field(default_factory=list)
    details: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    line: int = field(default=0, compare=False)
    column: int = field(default=0, compare=False)

    @property
    def label(self) -> str:
        return self.alias or self.name


@dataclass
class Relationship:
    left: str
    right: str
    left_cardinality: str
    right_cardinality: str
    identifying: bool = True
    label: str = ""
    details: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    line: int = field(default=0, compare=False)
    column: int = field(default=0, compare=False)
    #: where the reader knows them (SQL DDL): the left entity's attributes that hold the link and
    #: the right entity's attributes they reference, in order; empty when the diagram does not say
    columns: tuple[tuple[str, ...], tuple[str, ...]] = field(default=((), ()), compare=False)


@dataclass
class Diagram:
    entities: dict[str, Entity] = field(default_factory=dict)
    relationships: list[Relationship] = field(default_factory=list)
    title: str | None = None
    direction: str | None = None
    details: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    source: str = field(default="", compare=False, repr=False)
    path: str = field(default="", compare=False)
    #: what the reader skipped or assumed, in one line each (``validate`` and ``graph`` show them)
    reading: list[str] = field(default_factory=list, compare=False, repr=False)
    #: the same, item by item ("FILE:LINE:COL: skipped CREATE FUNCTION"), for ``--verbose``
    reading_details: list[str] = field(default_factory=list, compare=False, repr=False)

    def to_mermaid(self) -> str:
        """Canonical Mermaid text for this diagram (comments carry details and notes)."""
        out: list[str] = []
        if self.title is not None:
            out += ["---", f"title: {_yaml_scalar(self.title)}", "---"]
        out += [line.strip() for line in _comment_lines(self.details, self.notes)]
        out.append("erDiagram")
        if self.direction:
            out.append(f"    direction {self.direction}")
        for e in self.entities.values():
            head = f"    {_name(e.name)}" + (f'["{e.alias}"]' if e.alias else "")
            if e.attributes:
                out.append(head + " {")
                for a in e.attributes:
                    keys = f" {','.join(a.keys)}" if a.keys else ""
                    comment = f' "{a.comment}"' if a.comment is not None else ""
                    out.append(f"        {a.type} {a.name}{keys}{comment}")
                out.append("    }")
            else:
                out.append(head)
            out += _comment_lines(e.details, e.notes)
        for r in self.relationships:
            marker = CARDINALITIES[r.left_cardinality][0] + ("--" if r.identifying else "..")
            marker += CARDINALITIES[r.right_cardinality][1]
            out.append(f'    {_name(r.left)} {marker} {_name(r.right)} : "{r.label}"')
            out += _comment_lines(r.details, r.notes)
        return "\n".join(out) + "\n"


def _yaml_scalar(text: str) -> str:
    return yaml.safe_dump(text, default_style='"').strip()


#: Words Mermaid's lexer takes as keywords where a name would start (case-insensitive).
_RESERVED = re.compile(r"(one|many|to|class|classdef|style|erdiagram|title|direction)\b|u[-.|]", re.I | re.A)


def _name(name: str) -> str:
    plain = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", name) and not _RESERVED.match(name)
    return name if plain else f'"{name}"'


def _comment_lines(details: dict[str, str], notes: list[str]) -> list[str]:
    return [f"    %% {n}" for n in notes] + [f"    %% {k}: {v}" for k, v in details.items()]
