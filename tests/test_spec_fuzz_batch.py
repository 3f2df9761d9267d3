"""A generated batch of malformed specs: the bundled samples, mutated from a fixed seed.

Each case takes a sample's setup.yaml and diagram (Mermaid or SQL) and breaks them one way: a value
of the wrong type, a missing or unknown key, a bad reference, odd bytes, a truncation, a duplicated
key, a huge number, a Unicode oddity. Each case knows what ``janus validate`` must do: accept it,
refuse it, or either; a refusal must be a clear error whose first line is ``file:line:col:``, and
nothing may end in a traceback. ``tally`` counts the outcomes (``python tests/test_spec_fuzz_batch.py``
prints them for any checkout).
"""

from __future__ import annotations

import copy
import random
import re
import shutil
import tempfile
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

SEED = 20_250_607
ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ["marriage_counsel", "clinic", "coding_assist", "marriage_counsel_instruct", "sql_schema"]
LOCATED = re.compile(r"[^\s:]+:\d+:\d+: \S")

ACCEPT, REFUSE, EITHER = "accept", "refuse", "either"

#: setup.yaml fields by type, and values of another type for each
INTS = [("s_factor",), ("d_factor",), ("rounds",), ("walk", "max_path_length"), ("walk", "random_walks"),
        ("limits", "turns"), ("limits", "message_chars"), ("chunking", "words"), ("chunking", "per_context"),
        ("model", "max_tokens"), ("model", "tokens_per_minute")]
FLOATS = [("model", "temperature"), ("model", "requests_per_minute"), ("model", "roles", "judge", "temperature")]
BOOLS = [("assistant_in_diagram",), ("walk", "cover")]
STRINGS = [("user_role",), ("assistant_role",), ("description",), ("output_type",), ("system_prompt",)]
LISTS = [("seed_directions",), ("derivational_directions",), ("documents",)]
NOT_INTS = ["3", "3.0", True, False, 2.5, [3], {"n": 3}, "three", ""]
NOT_FLOATS = ["0.5", True, [0.5], {"t": 1}, "hot", float("nan"), float("inf")]
NOT_BOOLS = ["true", "yes", 1, 0, "false", [True], None]
NOT_STRINGS = [3, 2.5, True, ["A"], {"a": "b"}]
NOT_LISTS = ["general", 3, {"a": 1}, [3], [["general"]]]
HUGE = [10**30, -(10**30), 2**63, -1, 10**6 + 1]
CONTROLS = ["\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x7f"]
ODD_TEXT = ["\u200b", "\u202e", "\U0001f600", "\u00a0", "\u2028", "\ufffd", "é", "e\u0301", "ß"]
BAD_UTF8 = [b"\xff", b"\xc3\x28", b"\xe2\x82", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"]


@dataclass
class Case:
    """One malformed spec: a sample and the files that replace its own."""

    name: str
    sample: str
    expect: str
    files: dict[str, bytes] = field(default_factory=dict)


@dataclass
class Base:
    sample: str
    setup: str
    data: dict
    diagram_name: str
    diagram: str


def _bases() -> list[Base]:
    bases = []
    for sample in SAMPLES:
        folder = ROOT / "samples" / sample
        setup = (folder / "setup.yaml").read_text(encoding="utf-8")
        data = yaml.safe_load(setup)
        name = data.get("er_diagram_path") or "diagram.mermaid"
        bases.append(Base(sample, setup, data, name, (folder / name).read_text(encoding="utf-8")))
    return bases


def _dump(data: dict) -> bytes:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode("utf-8")


def _set(data: dict, path: tuple, value) -> dict:
    """A copy of ``data`` with ``value`` at ``path`` (mappings made on the way as needed)."""
    out = copy.deepcopy(data)
    node = out
    for part in path[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[path[-1]] = value
    return out


def _delete(data: dict, key: str) -> dict:
    out = dict(data)
    out.pop(key, None)
    return out


def _insert(text: str, rng: random.Random, piece: str) -> str:
    i = rng.randrange(len(text) + 1)
    return text[:i] + piece + text[i:]


def _entity_roles(base: Base) -> tuple[str, str]:
    return base.data["user_role"], base.data["assistant_role"]


# --- the mutations: each returns (name, expectation, files) ------------------------------------

def wrong_type(base: Base, rng: random.Random):
    kind = rng.choice(["int", "float", "bool", "str", "list"])
    fields, values = {"int": (INTS, NOT_INTS), "float": (FLOATS, NOT_FLOATS), "bool": (BOOLS, NOT_BOOLS),
                      "str": (STRINGS, NOT_STRINGS), "list": (LISTS, NOT_LISTS)}[kind]
    path, value = rng.choice(fields), rng.choice(values)
    return f"wrong-type {'.'.join(path)}={value!r}", REFUSE, {"setup.yaml": _dump(_set(base.data, path, value))}


def right_type(base: Base, rng: random.Random):
    path, value = rng.choice([(("s_factor",), 2), (("model", "temperature"), 1), (("model", "temperature"), 0.25),
                              (("assistant_in_diagram",), True), (("walk", "cover"), False),
                              (("limits", "turns"), 4), (("model", "requests_per_minute"), 30),
                              (("model", "max_tokens"), 1_000_000), (("d_factor",), 0)])
    return f"right-type {'.'.join(path)}={value!r}", ACCEPT, {"setup.yaml": _dump(_set(base.data, path, value))}


def huge_number(base: Base, rng: random.Random):
    path, value = rng.choice(INTS), rng.choice(HUGE)
    if path == ("model", "tokens_per_minute") and value > 0:
        value = -value
    return f"huge {'.'.join(path)}={value}", REFUSE, {"setup.yaml": _dump(_set(base.data, path, value))}


def huge_literal(base: Base, rng: random.Random):
    digits = rng.choice([400, 4301, 20_000])
    key = rng.choice(["s_factor", "rounds"])
    return f"huge-literal {key} ({digits} digits)", REFUSE, {
        "setup.yaml": (base.setup + f"\n{key}: {'9' * digits}\n").encode()}


def missing_key(base: Base, rng: random.Random):
    key = rng.choice(["user_role", "assistant_role", "description", "seed_directions", "derivational_directions",
                      "output_type", "s_factor", "walk", "limits", "system_prompt"])
    expect = REFUSE if key in ("user_role", "assistant_role") else ACCEPT
    return f"missing {key}", expect, {"setup.yaml": _dump(_delete(base.data, key))}


def unknown_key(base: Base, rng: random.Random):
    key = rng.choice(["s_factr", "user-role", "walks", "Model", "directions_seed", "1"])
    return f"unknown-key {key}", REFUSE, {"setup.yaml": (base.setup + f"\n{key}: 2\n").encode()}


def bad_reference(base: Base, rng: random.Random):
    user, _ = _entity_roles(base)
    choice = rng.choice([
        ("user_role", "NOBODY"), ("assistant_role", "NOBODY"), ("user_role", user.lower() + "x"),
        ("output_type", "conversations"), ("filters", ["no-such-filter"]), ("er_diagram_path", "nope.mermaid"),
        ("er_diagram_path", "../setup.yaml"), ("er_diagram_path", "/etc/hostname"), ("documents", ["nothing/*.md"]),
        ("filter_options", {"no-such-filter": {"x": 1}}), ("walk", {"strategies": ["spiral"]}),
        ("user_role", user + "\u200b"),
    ])
    return f"bad-reference {choice[0]}={choice[1]!r}", REFUSE, {"setup.yaml": _dump(_set(base.data, (choice[0],),
                                                                                       choice[1]))}


def hostile_reference(base: Base, rng: random.Random):
    """Names that reach past the checks a plain typo meets: a path too long for the file system, a
    file no diagram reader reads, an empty inline diagram, a backend nobody registered."""
    key, value = rng.choice([
        ("er_diagram_path", "d" * 300 + ".mermaid"), ("er_diagram_path", "a/" * 1500 + "d.mermaid"),
        ("er_diagram_path", "setup.yaml"), ("er_diagram", ""), ("er_diagram", "flowchart LR\n  a --> b\n"),
        ("documents", ["n" * 300 + ".md"]), ("documents", ["**a"]), ("documents", ["[z-a].md"]),
        ("model", {"backend": "no-such-backend"}), ("model", {"roles": {"judge": {"backend": "opnai"}}}),
    ])
    data = _delete(base.data, "er_diagram_path") if key == "er_diagram" else base.data
    return f"hostile {key}={value!r:.40}", REFUSE, {"setup.yaml": _dump(_set(data, (key,), value))}


def deep_nesting(base: Base, rng: random.Random):
    depth = rng.choice([60, 1000, 5000])
    if base.diagram_name.endswith(".sql"):
        extra = f"CREATE TABLE zz (id INT CHECK ({'(' * depth}1{')' * depth}));\n"
        return f"deep parentheses ({depth})", REFUSE, {base.diagram_name: (base.diagram + extra).encode()}
    front = f"---\ntitle: {'[' * depth}{']' * depth}\n---\n"
    return f"deep front matter ({depth})", REFUSE, {base.diagram_name: (front + base.diagram).encode()}


def free_text_direction(base: Base, rng: random.Random):
    text = rng.choice(["be brief", "the user is in a hurry", "général"])
    return f"free-text direction {text!r}", ACCEPT, {"setup.yaml": _dump(_set(base.data, ("seed_directions",),
                                                                              [text]))}


def inline_directions(base: Base, rng: random.Random):
    a = rng.choice(["calm", "CAFÉ", "direct"])
    same = rng.random() < 0.6
    b = (unicodedata.normalize("NFD", a) if rng.random() < 0.5 else a) if same else a + "-too"
    directions = [{"name": a, "instruction": "Stay calm"}, {"name": b, "instruction": "Stay calmer"}]
    return f"directions {a!r}/{b!r}", REFUSE if same else ACCEPT, {
        "setup.yaml": _dump(_set(base.data, ("directions",), directions))}


def duplicate_key(base: Base, rng: random.Random):
    lines = [ln for ln in base.setup.splitlines() if re.match(r"[a-z_]+: \S", ln)]
    line = rng.choice(lines)
    return f"duplicate-key {line.split(':')[0]}", REFUSE, {"setup.yaml": (base.setup + "\n" + line + "\n").encode()}


def control_byte(base: Base, rng: random.Random):
    char, target = rng.choice(CONTROLS), rng.choice(["setup.yaml", base.diagram_name])
    text = base.setup if target == "setup.yaml" else base.diagram
    return f"control U+{ord(char):04X} in {target}", REFUSE, {target: _insert(text, rng, char).encode()}


def bad_utf8(base: Base, rng: random.Random):
    piece, target = rng.choice(BAD_UTF8), rng.choice(["setup.yaml", base.diagram_name])
    data = (base.setup if target == "setup.yaml" else base.diagram).encode()
    i = rng.randrange(len(data) + 1)
    while i < len(data) and (data[i] & 0xC0) == 0x80:  # not inside a character
        i += 1
    return f"bad UTF-8 {piece!r} in {target}", REFUSE, {target: data[:i] + piece + data[i:]}


def byte_order_mark(base: Base, rng: random.Random):
    which = rng.choice(["setup.yaml", "diagram", "both"])
    files = {}
    if which in ("setup.yaml", "both"):
        files["setup.yaml"] = ("\ufeff" + base.setup).encode()
    if which in ("diagram", "both"):
        files[base.diagram_name] = ("\ufeff" + base.diagram).encode()
    return f"BOM in {which}", ACCEPT, files


def line_endings(base: Base, rng: random.Random):
    which = rng.choice(["setup.yaml", "diagram", "both"])
    files = {}
    if which in ("setup.yaml", "both"):
        files["setup.yaml"] = base.setup.replace("\n", "\r\n").encode()
    if which in ("diagram", "both"):
        files[base.diagram_name] = base.diagram.replace("\n", "\r\n").encode()
    return f"CRLF in {which}", ACCEPT, files


def truncate(base: Base, rng: random.Random):
    target = rng.choice(["setup.yaml", base.diagram_name])
    text = base.setup if target == "setup.yaml" else base.diagram
    cut = rng.randrange(len(text))
    return f"truncated {target} at {cut}", EITHER, {target: text[:cut].encode()}


def splice(base: Base, rng: random.Random):
    target = rng.choice(["setup.yaml", base.diagram_name])
    text = base.setup if target == "setup.yaml" else base.diagram
    i, j = sorted(rng.randrange(len(text)) for _ in range(2))
    how = rng.choice(["cut", "repeat", "swap"])
    if how == "cut":
        text = text[:i] + text[j:]
    elif how == "repeat":
        text = text[:j] + text[i:j] * 3 + text[j:]
    else:
        text = text[i:j] + text[:i] + text[j:]
    return f"{how} {target} [{i}:{j}]", EITHER, {target: text.encode()}


def odd_text(base: Base, rng: random.Random):
    piece, target = rng.choice(ODD_TEXT), rng.choice(["setup.yaml", base.diagram_name])
    text = base.setup if target == "setup.yaml" else base.diagram
    return f"odd text {piece!r} in {target}", EITHER, {target: _insert(text, rng, piece).encode()}


def unicode_role(base: Base, rng: random.Random):
    """The user role renamed in both files, in different normal forms: still the same name."""
    user, _ = _entity_roles(base)
    new = rng.choice(["CAFÉ", "ÉCOLE", "NIÑO", "Über"])
    forms = [unicodedata.normalize("NFC", new), unicodedata.normalize("NFD", new)]
    rng.shuffle(forms)
    in_setup, in_diagram = forms
    if base.diagram_name.endswith(".sql"):  # the table, where it is created and referenced
        diagram = re.sub(rf"\b(REFERENCES|TABLE)\s+{re.escape(user)}\b", rf'\1 "{in_diagram}"', base.diagram)
    else:
        diagram = re.sub(rf"\b{re.escape(user)}\b(?![_-])", in_diagram, base.diagram)
    return f"unicode role {in_setup!a} vs {in_diagram!a}", ACCEPT, {
        "setup.yaml": _dump(_set(base.data, ("user_role",), in_setup)), base.diagram_name: diagram.encode()}


def sql_foreign_key(base: Base, rng: random.Random):
    if not base.diagram_name.endswith(".sql"):
        return control_byte(base, rng)
    target, expect = rng.choice([("ghost (id)", ACCEPT), ("member (nope)", REFUSE), ("member (id)", ACCEPT),
                                 ("member", ACCEPT), ("branch (id, name)", REFUSE), ("later_table (id)", ACCEPT)])
    extra = f"\nCREATE TABLE zz_extra (id INT PRIMARY KEY, ref_id INT REFERENCES {target});\n"
    if target.startswith("later_table"):
        extra += "CREATE TABLE later_table (id INT PRIMARY KEY);\n"
    return f"sql foreign key to {target}", expect, {base.diagram_name: (base.diagram + extra).encode()}


def tabs(base: Base, rng: random.Random):
    lines = base.setup.splitlines()
    indented = [i for i, ln in enumerate(lines) if ln.startswith("  ")]
    i = rng.choice(indented)
    lines[i] = "\t" + lines[i][2:]
    return f"tab indent setup.yaml line {i + 1}", EITHER, {"setup.yaml": ("\n".join(lines) + "\n").encode()}


def empty(base: Base, rng: random.Random):
    target = rng.choice(["setup.yaml", base.diagram_name])
    content = rng.choice([b"", b"\n\n", b"   ", "\ufeff".encode(), b"# only a comment\n"])
    return f"empty {target} {content!r}", REFUSE, {target: content}


MUTATIONS = [wrong_type, wrong_type, wrong_type, right_type, huge_number, huge_literal, missing_key, unknown_key,
             bad_reference, free_text_direction, inline_directions, duplicate_key, control_byte, bad_utf8,
             byte_order_mark, line_endings, truncate, truncate, splice, odd_text, odd_text, unicode_role,
             sql_foreign_key, tabs, empty, hostile_reference, deep_nesting]
PER_SAMPLE = 72


def cases(seed: int = SEED, per_sample: int = PER_SAMPLE) -> list[Case]:
    """The batch: ``per_sample`` cases for each sample, every mutation used in turn, all from ``seed``."""
    rng = random.Random(seed)
    out = []
    for base in _bases():
        for i in range(per_sample):
            mutation = MUTATIONS[i % len(MUTATIONS)]
            name, expect, files = mutation(base, rng)
            out.append(Case(f"{base.sample}/{i:03d} {name}", base.sample, expect, files))
    return out


# --- running a case ----------------------------------------------------------------------------

def outcome(case: Case) -> tuple[str, str]:
    """('accepted' | 'clear' | 'unclear' | 'traceback', detail) for ``janus validate`` on the case."""
    from click.testing import CliRunner

    from janus_core.cli import cli as janus

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / case.sample
        shutil.copytree(ROOT / "samples" / case.sample, folder)
        for name, data in case.files.items():
            (folder / name).write_bytes(data)
        result = CliRunner().invoke(janus, ["validate", str(folder)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return "traceback", f"{type(result.exception).__name__}: {result.exception}"
    if "Traceback" in result.output:
        return "traceback", result.output[-500:]
    if result.exit_code == 0:
        return "accepted", ""
    first = (result.stderr.splitlines() or [""])[0]
    return ("clear" if result.exit_code == 1 and LOCATED.match(first) else "unclear"), first


def verdict(case: Case, got: str) -> str:
    """What the outcome means: 'ok', 'traceback', 'unclear error', 'wrong acceptance', 'wrong refusal'."""
    if got in ("traceback", "unclear"):
        return "traceback" if got == "traceback" else "unclear error"
    if case.expect == REFUSE and got == "accepted":
        return "wrong acceptance"
    if case.expect == ACCEPT and got != "accepted":
        return "wrong refusal"
    return "ok"


def tally(batch: list[Case]) -> tuple[Counter, list[str]]:
    """Counts of outcomes and verdicts over the batch, and a line for each case that is not ok."""
    counts: Counter = Counter()
    bad = []
    for case in batch:
        got, detail = outcome(case)
        counts[got] += 1
        judged = verdict(case, got)
        if judged in ("wrong acceptance", "wrong refusal"):
            counts[judged] += 1
        if judged != "ok":
            bad.append(f"{judged}: {case.name}: {detail}")
    return counts, bad


def test_the_batch_is_deterministic_and_large():
    first, again = cases(), cases()
    assert [(c.name, c.files) for c in first] == [(c.name, c.files) for c in again]
    assert len(first) >= 300
    assert {c.expect for c in first} == {ACCEPT, REFUSE, EITHER}


def test_every_malformed_spec_is_accepted_or_refused_clearly():
    counts, bad = tally(cases())
    assert not bad, f"{len(bad)} of {sum(counts[k] for k in ('accepted', 'clear', 'unclear', 'traceback'))}:\n" \
        + "\n".join(bad)


if __name__ == "__main__":
    totals, failures = tally(cases())
    print("\n".join(failures))
    print(dict(totals))
