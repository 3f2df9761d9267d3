"""What ``janus init`` writes: a spec folder started from a diagram or schema the user has (or a small
starter diagram), with setup.yaml's roles guessed from the diagram and every field explained."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from janus_core.sdk.errors import JanusError, display_path
from janus_core.spec.diagram import Diagram
from janus_core.spec.model import DIAGRAM_FILE, SETUP_FILE

if TYPE_CHECKING:
    from janus_core.plugins import Plugins

#: words in an entity's name that say it is a person or an organisation acting in the situation,
#: split into those who usually ask (the user) and those who usually serve (the assistant)
ASKERS = {"user", "customer", "client", "patient", "member", "student", "learner", "guest", "visitor", "tenant",
          "buyer", "passenger", "applicant", "candidate", "caller", "citizen", "couple", "counselee", "parent",
          "player", "shopper", "subscriber", "traveller", "traveler", "developer", "employee", "attendee",
          "borrower", "reader", "resident", "owner", "person", "people", "requester", "reporter"}
SERVERS = {"assistant", "agent", "advisor", "adviser", "counselor", "counsellor", "therapist", "doctor",
           "physician", "nurse", "pharmacist", "dentist", "librarian", "teacher", "tutor", "instructor", "mentor",
           "coach", "trainer", "lawyer", "attorney", "consultant", "clerk", "cashier", "staff", "support",
           "receptionist", "manager", "landlord", "seller", "vendor", "host", "driver", "officer", "expert",
           "specialist", "technician", "engineer", "operator", "admin", "administrator", "representative",
           "recruiter", "reviewer", "guide", "banker", "broker", "planner", "dispatcher", "volunteer", "vet"}
#: attribute names that mark a person
PERSON_FIELDS = re.compile(r"(^|_)(first_?name|last_?name|full_?name|surname|email|phone|birth|born|age|gender)($|_)",
                           re.I)

STARTER_DIAGRAM = """\
erDiagram
    %% A starter diagram: replace it with your situation. Entities are the things and people in it,
    %% relationships how they meet; '%% Key: value' lines are details the prompts show the model.
    CUSTOMER ||--o{ ORDER : places
    SUPPORT_AGENT ||--o{ CUSTOMER : helps
    ORDER ||--|{ PRODUCT : contains
    CUSTOMER {
        string name
        string plan "free or premium"
    }
    ORDER {
        string status "paid, shipped, delayed or returned"
        date placed_on
    }
    PRODUCT {
        string name
        float price
    }
    %% Shop: an online shop for kitchen equipment
    %% Returns: within 30 days, unused
"""


@dataclass
class Roles:
    """The guessed roles and why they were chosen, in words."""

    user: str
    assistant: str
    #: False when the diagram has one entity: the assistant is then a helper outside it
    assistant_in_diagram: bool
    why: str


def _words(name: str) -> list[str]:
    return [w.lower() for w in re.split(r"[^A-Za-z]+|(?<=[a-z])(?=[A-Z])", name) if w]


def guess_roles(diagram: Diagram) -> Roles:
    """Two entities to be the user and the assistant: those whose names say they ask or serve, else
    those that look like people (a name, email or birth date), else the most connected ones."""
    names = list(diagram.entities)
    if len(names) == 1:
        return Roles(names[0], "ASSISTANT", False, "the diagram has one entity, so the assistant is a helper "
                     "outside it (assistant_in_diagram: false)")
    degree = Counter(name for r in diagram.relationships for name in (r.left, r.right))

    def kind(name: str) -> str:
        words = set(_words(diagram.entities[name].label)) | set(_words(name))
        if words & SERVERS:
            return "serves"
        if words & ASKERS:
            return "asks"
        if any(PERSON_FIELDS.search(a.name) for a in diagram.entities[name].attributes):
            return "person"
        return ""

    kinds = {name: kind(name) for name in names}
    by_degree = sorted(names, key=lambda n: (-degree[n], names.index(n)))
    people = [n for n in by_degree if kinds[n]]
    askers = [n for n in people if kinds[n] == "asks"]
    servers = [n for n in people if kinds[n] == "serves"]
    if askers and servers:
        return Roles(askers[0], servers[0], True, f"{askers[0]} looks like someone who asks and {servers[0]} "
                     "like someone who serves (their names)")
    if len(people) >= 2:
        user, assistant = (people[1], people[0]) if servers else (people[0], people[1])
        return Roles(user, assistant, True, f"{user} and {assistant} look like people (their names or "
                     "attributes), the most connected of them")
    if people:
        other = next(n for n in by_degree if n != people[0])
        user, assistant = (other, people[0]) if servers else (people[0], other)
        return Roles(user, assistant, True, f"{people[0]} looks like a person and {other} is the most "
                     "connected of the rest")
    return Roles(by_degree[0], by_degree[1], True, f"no entity looks like a person: {by_degree[0]} and "
                 f"{by_degree[1]} are the most connected")


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def setup_text(diagram: Diagram, roles: Roles, diagram_file: str, dialect: str | None = None) -> str:
    """setup.yaml for ``diagram`` with ``roles``, each field explained in a comment."""
    others = [e.label for name, e in diagram.entities.items() if name not in (roles.user, roles.assistant)]
    about = f", about {', '.join(others[:4])}" if others else ""
    description = diagram.title or f"Conversations between the {roles.user} and the {roles.assistant}{about}."
    lines = [
        "# Written by 'janus init'. Check it with 'janus validate FOLDER', preview the plan with",
        "# 'janus generate FOLDER --dry-run', then generate. Every field below is explained above it.",
        "",
        "# The situation in a sentence or two: every prompt the model sees starts from it.",
        f"description: {_quoted(description)}",
        "",
        f"# Who asks and who answers: entities of the diagram. Guessed: {roles.why}.",
        "# Any two entity names (or aliases) will do.",
        f"user_role: {_quoted(roles.user)}",
        f"assistant_role: {_quoted(roles.assistant)}",
    ]
    if not roles.assistant_in_diagram:
        lines += ["# The assistant is not an entity of the diagram (a general helper).",
                  "assistant_in_diagram: false"]
    lines += [
        "",
        "# What a record is: conversation (several turns) or instruct (one request, one answer);",
        "# plugins add more (follow-up, preference, system-message; see 'janus plugins').",
        "output_type: conversation",
        "",
        "# The diagram file, beside this one.",
        f"er_diagram_path: {_quoted(diagram_file)}",
    ]
    if dialect:
        lines += ["# The SQL dialect the schema is written in (sqlglot's name).", f"sql_dialect: {dialect}"]
    lines += [
        "",
        "# The assistant's system message in every record ({{ assistant_role }} and {{ user_role }} are filled in).",
        "system_prompt: \"You are a helpful {{ assistant_role }}. Answer the {{ user_role }} clearly and kindly.\"",
        "",
        "# How seed records are asked for: general, diverse, or a sentence of your own.",
        "seed_directions:",
        "  - general",
        "  - diverse",
        "# How each seed is evolved into a new record: in-depth, general, evol-instruct's, or your own sentence.",
        "derivational_directions:",
        "  - in-depth",
        "",
        "# Seeds per walk of the diagram and seed direction; evolutions per seed and derivational direction.",
        "s_factor: 1",
        "d_factor: 1",
        "",
        "# How the diagram is walked into the situations seeds are written about.",
        "walk:",
        "  strategies: [relationship, neighbourhood, path]",
        "  max_path_length: 3",
        "",
        "# Bounds on a record: user turns, characters per message.",
        "limits:",
        "  turns: 3",
        "  message_chars: 600",
        "",
        "# The model. Leave it out to choose on the command line (--backend, --model); keys come from",
        "# the environment (OPENAI_API_KEY, ...), never from this file.",
        "# model:",
        "#   backend: openai",
        "#   name: gpt-4o-mini",
        "#   temperature: 0.8",
        "",
    ]
    return "\n".join(lines)


def diagram_target(source: Path) -> str:
    """The name the copied diagram takes: diagram.mermaid for Mermaid, schema.sql for SQL, else its own."""
    if source.suffix.lower() in (".mmd", ".mermaid"):
        return DIAGRAM_FILE
    if source.suffix.lower() == ".sql":
        return "schema.sql"
    return source.name


def write_spec(folder: Path, plugins: Plugins, source: Path | None = None, dialect: str | None = None) -> Roles:
    """Write a spec folder from ``source`` (a diagram or schema file; None: the starter diagram).
    The source is read first: a broken one is a SpecError at its line and column and nothing is
    written. An existing folder that is not empty is refused."""
    from janus_core.spec.drawing import read_diagram_file
    from janus_core.spec.safe_load import read_text

    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise JanusError(f"{display_path(folder)} exists and is not empty: 'janus init' writes a new spec folder "
                         "and overwrites nothing; give another name or empty it")
    if source is None:
        text, name = STARTER_DIAGRAM, DIAGRAM_FILE
        diagram = plugins.read_diagram(text, name)
    else:
        diagram = read_diagram_file(source, plugins, dialect)
        text, name = read_text(source, display_path(source)), diagram_target(source)
    roles = guess_roles(diagram)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    (folder / SETUP_FILE).write_text(setup_text(diagram, roles, name, dialect), encoding="utf-8")
    return roles
