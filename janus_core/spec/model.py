"""A spec folder: setup.yaml (validated with pydantic) and its diagram.

Every problem is reported as ``file:line:col: message`` with a hint; unknown keys get a
did-you-mean. Values are read strictly: a number or a boolean must be written as one (``s_factor:
'3'`` or ``s_factor: true`` is refused, not converted), and names are compared in Unicode's NFC form.
``load_spec`` reads and checks the files; ``check_plugins`` checks the names the
spec uses against what the loaded plugins registered.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from janus_core.sdk.contracts import Direction, Limits
from janus_core.sdk.credentials import key_field_problems
from janus_core.sdk.errors import JanusError, PluginError, Problem, SpecError, did_you_mean, display_path
from janus_core.sdk.options import OptionsError
from janus_core.spec.diagram import Diagram, nfc
from janus_core.spec.legacy import RENAMED, is_legacy, translate
from janus_core.spec.paths import outside
from janus_core.spec.safe_load import check_diagram_text, compose_yaml, read_text
from janus_core.spec.sandbox import GLOBALS, TemplateRefused, check
from janus_core.spec.templates import DERIVATIONAL_PROMPT, PLACEHOLDERS, SEED_PROMPT, undeclared

SETUP_FILE = "setup.yaml"
DIAGRAM_FILE = "diagram.mermaid"


class _Strict(BaseModel):
    """No unknown keys, and no conversions: '3' is not a number, true is not 1 (a YAML int is a float)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


#: a name compared with the diagram's or the plugins' names, kept in NFC form
Name = Annotated[str, AfterValidator(nfc)]


#: walk strategies (see janus_core.plan.graph) and the ones a spec uses unless it names others
STRATEGIES = ("relationship", "neighbourhood", "path", "random")
DEFAULT_STRATEGIES = ("relationship", "neighbourhood")


class WalkOptions(_Strict):
    """How the diagram is walked into seed contexts."""

    strategies: list[Literal["relationship", "neighbourhood", "path", "random"]] = Field(
        default_factory=lambda: list(DEFAULT_STRATEGIES), min_length=1)
    max_path_length: int = Field(3, ge=2, le=8)
    random_walks: int = Field(0, ge=0, le=10_000)
    cover: bool = True


class LimitOptions(_Strict):
    """Bounds on one reply; backends such as the embedded model suggest smaller ones."""

    turns: int | None = Field(None, ge=1, le=20)
    message_chars: int | None = Field(None, ge=20, le=20_000)


ROLES = ("user", "assistant", "judge")
#: the most tokens one reply may ask for (no model writes more; a larger number is a typo)
MAX_TOKENS = 1_000_000


class RoleModel(_Strict):
    """The model one role uses (``model.roles.ROLE``); what it leaves out comes from ``model:``."""

    backend: str | None = None
    name: str | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=16, le=MAX_TOKENS)
    requests_per_minute: float | None = Field(None, gt=0)
    tokens_per_minute: int | None = Field(None, gt=0)
    options: dict[str, Any] = Field(default_factory=dict)


class ModelOptions(_Strict):
    """Which backend and model answer, and how; ``roles`` may give the user simulator, the
    assistant and the judge models of their own."""

    backend: str | None = None
    name: str | None = None
    temperature: float = Field(0.8, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=16, le=MAX_TOKENS)
    requests_per_minute: float | None = Field(None, gt=0)
    tokens_per_minute: int | None = Field(None, gt=0)
    options: dict[str, Any] = Field(default_factory=dict)
    roles: dict[Literal["user", "assistant", "judge"], RoleModel] = Field(default_factory=dict)


class InlineDirection(_Strict):
    """A direction defined in setup.yaml: a name and either an instruction or a whole template."""

    name: Name = Field(min_length=1)
    description: str = ""
    instruction: str | None = None
    template: str | None = None

    def to_direction(self) -> Direction:
        text = self.instruction or self.description or self.name
        return Direction(name=self.name, pack="setup.yaml", description=self.description or text,
                         instructions=(text,), template=self.template)


class ToolOptions(_Strict):
    """Which tools of the world (``janus world``) an assistant gets, and how they are described."""

    allow: list[str] = Field(default_factory=list, description="Tool names or globs (get_*) to keep; empty: all.")
    deny: list[str] = Field(default_factory=list, description="Tool names or globs to leave out (after allow).")
    describe: dict[str, str] = Field(default_factory=dict,
                                     description="A tool's name -> the description the assistant reads instead.")
    calls_per_turn: int = Field(6, ge=1, le=32, description="Tool calls an assistant turn may make (tool-use data); "
                                "calls beyond them are not run, and the assistant is asked for its answer.")
    rows: int = Field(20, ge=1, le=10_000, description="Rows per table of the world a tool-use run acts in.")


class ChunkingOptions(_Strict):
    """How ``documents:`` are cut into chunks, and how many chunks a seed context carries."""

    words: int = Field(200, ge=20, le=5000)
    overlap: int = Field(40, ge=0, le=2500)
    per_context: int = Field(2, ge=1, le=20)


class Setup(_Strict):
    """setup.yaml."""

    user_role: Name = Field(min_length=1)
    assistant_role: Name = Field(min_length=1)
    assistant_in_diagram: bool = True
    description: str = ""
    output_type: str = "conversation"
    #: one-shot: one JSON reply holds a whole record; turns: one plain-text request per turn (a user
    #: simulator, then the assistant). Default: the backend's ``default_generation``.
    generation: Literal["one-shot", "turns"] | None = None
    system_prompt: str | None = None
    seed_prompt: str = SEED_PROMPT
    derivational_prompt: str = DERIVATIONAL_PROMPT
    seed_directions: list[Name] = Field(default_factory=lambda: ["general"], min_length=1)
    derivational_directions: list[Name] = Field(default_factory=lambda: ["general"])
    directions: list[InlineDirection] = Field(default_factory=list)
    rounds: int = Field(1, ge=1, le=20)
    filters: list[str] | None = None
    filter_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    documents: list[str] = Field(default_factory=list)
    chunking: ChunkingOptions = Field(default_factory=ChunkingOptions)
    s_factor: int = Field(1, ge=1, le=1000)
    d_factor: int = Field(1, ge=0, le=1000)
    walk: WalkOptions = Field(default_factory=WalkOptions)
    limits: LimitOptions = Field(default_factory=LimitOptions)
    model: ModelOptions = Field(default_factory=ModelOptions)
    tools: ToolOptions | None = Field(None, description="The world's tools for tool-use data: `allow`, `deny` "
                                      "(names or globs) and `describe` (name -> text); list them with `janus world "
                                      "SPEC --tools`.")
    er_diagram: str | None = None
    er_diagram_path: str | None = None
    #: the SQL dialect of a schema.sql diagram (sqlglot's name, e.g. postgres), when detection guesses wrong
    sql_dialect: str | None = None
    #: "original": the original tool's counting (set for its setup.yaml; see docs/how-to/original-tool.md)
    counting: Literal["janus", "original"] = Field("janus", exclude=True)
    #: the original tool's category, kept on each record (meta.category) for its outputs.json shape
    category: str = Field("", exclude=True)

    def limits_for(self, suggested: Limits | None) -> Limits:
        """The spec's limits, falling back to the backend's suggestion, then the defaults."""
        base = suggested or Limits()
        return Limits(turns=self.limits.turns or base.turns,
                      message_chars=self.limits.message_chars or base.message_chars)


TEMPLATE_FIELDS = ("system_prompt", "seed_prompt", "derivational_prompt")


@dataclass
class Spec:
    """A loaded, checked spec folder."""

    folder: Path
    setup_path: Path
    setup: Setup
    diagram: Diagram
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.folder.resolve().name


# --- YAML with positions -----------------------------------------------------------------------

class _Located:
    """setup.yaml's text with the line and column of every key and value."""

    def __init__(self, text: str, path: str):
        self.text, self.path = text, path
        self.keys: dict[tuple, tuple[int, int]] = {}
        self.values: dict[tuple, yaml.Node] = {}
        self.duplicates: list[Problem] = []
        root, self.data = compose_yaml(text, path)
        if root is not None:
            self._walk(root, ())

    def _walk(self, node: yaml.Node, path: tuple) -> None:
        self.values[path] = node
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                k = key.value
                if k in seen:
                    self.duplicates.append(Problem(self.path, key.start_mark.line + 1, key.start_mark.column + 1,
                                                   f"key '{k}' appears twice", "keep one of them"))
                seen.add(k)
                self.keys[(*path, k)] = (key.start_mark.line + 1, key.start_mark.column + 1)
                self._walk(value, (*path, k))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._walk(item, (*path, i))

    def at(self, path: tuple, key: bool = False) -> tuple[int, int]:
        """Line and column of a value (or of its key), falling back to the nearest parent."""
        while path:
            if key and path in self.keys:
                return self.keys[path]
            if path in self.values:
                mark = self.values[path].start_mark
                return mark.line + 1, mark.column + 1
            path = path[:-1]
        return 1, 1

    def place(self, path: tuple, lineno: int, needle: str = "") -> tuple[int, int]:
        """Where line ``lineno`` of the scalar at ``path`` sits in the file, at ``needle`` when found."""
        line, col = self.content_start(path)
        line += lineno - 1
        lines = self.text.splitlines()
        if needle and 0 < line <= len(lines):
            found = lines[line - 1].find(needle, col - 1 if lineno == 1 else 0)
            if found >= 0:
                return line, found + 1
        return line, col

    def content_start(self, path: tuple) -> tuple[int, int]:
        """Where the text of a scalar starts (the line after '|' for block scalars)."""
        node = self.values.get(path)
        if node is None:
            return 1, 1
        if getattr(node, "style", None) in ("|", ">"):
            lines = self.text.splitlines()
            n = node.start_mark.line + 1
            indent = len(lines[n]) - len(lines[n].lstrip()) if n < len(lines) else 0
            return n + 1, indent + 1
        return node.start_mark.line + 1, node.start_mark.column + 1


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The pydantic model that owns the field at ``loc`` (for did-you-mean on unknown keys)."""
    model: Any = Setup
    for part in loc:
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields:
            return None
        annotation = fields[part].annotation
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    return model


_TYPE_HINTS = {
    "int_type": "write a whole number without quotes, such as 3",
    "float_type": "write a number without quotes, such as 0.7",
    "bool_type": "write true or false without quotes",
    "string_type": "write text; quote it if YAML reads it as something else ('yes', '3')",
    "finite_number": "write a finite number",
}


def _problems_from(exc: ValidationError, located: _Located) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        dotted = ".".join(str(p) for p in loc)
        if err["type"] == "extra_forbidden":
            owner = _model_at(loc[:-1])
            known = list(owner.model_fields) if owner else []
            line, col = located.at(loc, key=True)
            guess = did_you_mean(str(loc[-1]), known)
            problems.append(Problem(located.path, line, col, f"unknown key '{dotted}'.{guess}",
                                    f"known keys here: {', '.join(known)}"))
        elif err["type"] == "missing":
            line, col = located.at(loc[:-1])
            problems.append(Problem(located.path, line, col, f"missing required key '{dotted}'",
                                    f"add '{loc[-1]}: ...' (see docs/reference/setup-yaml.md)"))
        else:
            line, col = located.at(loc)
            got = err.get("input")
            problems.append(Problem(located.path, line, col, f"{dotted}: {err['msg']} (got {got!r})",
                                    _TYPE_HINTS.get(err["type"], "fix the value as the message says")))
    return problems


def _templates(setup: Setup) -> list[tuple[str, tuple, str]]:
    """(name, place in setup.yaml, text) of every text of the spec's that Janus renders as a template:
    the prompts, each inline direction's template and the text it renders into {{ direction }}
    (its instruction, else its description, else its name), and free-text directions ("Style: ...")."""
    fields = [(name, (name,), getattr(setup, name)) for name in TEMPLATE_FIELDS if name in setup.model_fields_set]
    for i, d in enumerate(setup.directions):
        key = next((k for k in ("instruction", "description") if getattr(d, k)), "name")
        fields += [(f"directions.{i}.{key}", ("directions", i, key), getattr(d, key)),
                   (f"directions.{i}.template", ("directions", i, "template"), d.template)]
    inline = {d.name for d in setup.directions}
    for key in ("seed_directions", "derivational_directions"):
        fields += [(f"{key}.{i}", (key, i), Direction.free_text(text).instructions[0])
                   for i, text in enumerate(getattr(setup, key)) if text not in inline and "{" in text]
    return [(name, path, text) for name, path, text in fields if text is not None]


#: how many refusals one template reports (a hostile template can hold hundreds)
_MAX_FINDINGS = 3


def _template_problems(setup: Setup, located: _Located) -> list[Problem]:
    from jinja2 import TemplateSyntaxError

    problems = []
    for name, path, template in _templates(setup):
        try:
            findings = check(template)
            used = frozenset() if findings else undeclared(template)
        except TemplateSyntaxError as exc:
            line, col = located.place(path, exc.lineno or 1)
            problems.append(Problem(located.path, line, col, f"{name}: template syntax error: {exc.message}",
                                    "placeholders are written {{ name }}; blocks {% if x %}...{% endif %}"))
            continue
        refused = sorted((*located.place(path, f.lineno, f.needle), f.message, f.hint) for f in findings)
        for line, col, message, hint in refused[:_MAX_FINDINGS]:
            problems.append(Problem(located.path, line, col, f"{name}: {message}",
                                    hint or "a prompt template may use placeholders, if, for, set, with and plain "
                                    "filters; it cannot read files or reach Python objects"))
        for var in sorted(used - set(PLACEHOLDERS) - GLOBALS):
            offset = next((i for i, text in enumerate(template.splitlines()) if var in text), 0)
            line, col = located.place(path, offset + 1)
            problems.append(Problem(located.path, line, col,
                                    f"{name}: unknown placeholder '{{{{ {var} }}}}'.{did_you_mean(var, PLACEHOLDERS)}",
                                    "known placeholders: " + ", ".join(PLACEHOLDERS)))
    return problems


def _duplicate_directions(setup: Setup, located: _Located) -> list[Problem]:
    """Each inline direction's name once (names compared in NFC form, as they are read)."""
    first: dict[str, int] = {}
    problems = []
    for i, direction in enumerate(setup.directions):
        if direction.name in first:
            line, col = located.at(("directions", i, "name"))
            problems.append(Problem(located.path, line, col, f"directions: the name '{direction.name}' is used twice "
                                    f"(entries {first[direction.name] + 1} and {i + 1})",
                                    "give each direction a name of its own"))
        first.setdefault(direction.name, i)
    return problems


def _trial_problems(spec: Spec, located: _Located) -> list[Problem]:
    """Render every template once with values the size of the spec's own, so a template that
    grows past a bound is refused here rather than while generating."""
    from janus_core.spec.templates import render

    setup = spec.setup
    source = spec.diagram.source.strip()
    sample = "x" * 2000
    values = {"diagram": source, "context": source, "direction": sample, "user_role": setup.user_role,
              "assistant_role": setup.assistant_role, "description": setup.description,
              "output_format": sample, "previous": sample, "entities": list(spec.diagram.entities),
              "documents": sample if setup.documents else ""}
    problems = []
    for name, path, template in _templates(setup):
        try:
            render(template, **values)
        except TemplateRefused as exc:
            line, col = located.place(path, exc.lineno, exc.needle)
            problems.append(Problem(located.path, line, col, f"{name}: {exc.message}",
                                    "a prompt must stay within the bounds in docs/security.md ('Bounds "
                                    "against hostile input')"))
    return problems


# --- loading -----------------------------------------------------------------------------------

#: read_diagram(text, where) -> Diagram; called with a third argument, the dialect, only when one is named
DiagramReaderFn = Callable[..., Diagram]


def _read_text(path: Path) -> str:
    """A spec file's text: UTF-8, at most 1 MB (read no further)."""
    return read_text(path, display_path(path))


def _shift(problems: list[Problem], path: str, line: int, col: int) -> list[Problem]:
    """Problems found in an inline diagram, moved to where it sits in setup.yaml."""
    return [Problem(path, p.line + line - 1, p.column + col - 1, p.message, p.hint) for p in problems]


def load_spec(target: str | Path, read_diagram: DiagramReaderFn | None = None,
              backends: dict[str, Any] | None = None, check_roles: bool = True,
              dialects: Callable[[], Collection[str]] | None = None, dialect: str | None = None) -> Spec:
    """Load a spec folder (or a setup.yaml path); raise SpecError listing every problem found.

    ``read_diagram(text, where)`` reads the diagram; by default the registered diagram readers do
    (``janus_core.plugins``). ``backends`` (name -> class) lets a refused key field name the
    variable its backend reads. ``check_roles=False`` leaves the roles unchecked against the diagram
    (``janus graph`` draws a diagram before the spec's roles match it). ``dialect`` (``--sql-dialect``,
    checked by the caller) overrides setup.yaml's ``sql_dialect``, which must be one of ``dialects()``
    (the readers' names, asked only then; None: unchecked); the one in force is ``read_diagram``'s
    third argument."""
    if read_diagram is None:
        from janus_core.plugins import load_plugins

        plugins = load_plugins()
        read_diagram, dialects = plugins.read_diagram, plugins.diagram_dialects
    target = Path(target)
    setup_path = target if target.is_file() else target / SETUP_FILE
    folder = setup_path.parent
    shown = display_path(setup_path)
    if not folder.is_dir():
        raise SpecError(Problem(display_path(target), 1, 1, "no such spec folder",
                                "give a folder holding setup.yaml and diagram.mermaid"))
    if not setup_path.is_file():
        raise SpecError(Problem(shown, 1, 1, "setup.yaml is missing",
                                "create it with at least user_role and assistant_role"))
    located = _Located(_read_text(setup_path), shown)
    if not isinstance(located.data, dict):
        kind = "empty" if located.data is None else f"a {type(located.data).__name__}, not a mapping"
        raise SpecError(Problem(shown, 1, 1, f"setup.yaml is {kind}",
                                "write 'key: value' lines such as 'user_role: COUNSELEE'"))
    secret_fields = key_field_problems(located.keys, located.data, shown, backends or {})
    if secret_fields:  # a spec is shared: a key in it is refused before anything else
        raise SpecError(secret_fields)
    problems = list(located.duplicates)
    data, legacy_notes = located.data, []
    if is_legacy(data):
        data, legacy_notes, more = translate(data, shown, lambda key: located.content_start((key,)))
        problems += more
        for old, new in (*RENAMED.items(), ("derivational_prompt", "derivational_prompt")):
            if (old,) in located.values:
                located.values[(new,)] = located.values[(old,)]
                located.keys[(new,)] = located.keys[(old,)]
        if problems:
            raise SpecError(problems)
    try:
        setup = Setup.model_validate(data)
    except ValidationError as exc:
        raise SpecError(problems + _problems_from(exc, located)) from None
    problems += _template_problems(setup, located)
    problems += _duplicate_directions(setup, located)
    if setup.er_diagram is not None and setup.er_diagram_path is not None:
        line, col = located.at(("er_diagram_path",), key=True)
        problems.append(Problem(shown, line, col, "both er_diagram and er_diagram_path are set",
                                "keep one: the diagram inline or the path to its file"))
    problems += _dialect_problems(setup, located, dialects)
    if problems:
        raise SpecError(problems)
    dialect = dialect or (setup.sql_dialect.lower() if setup.sql_dialect else None)
    if dialect:
        read_diagram = functools.partial(_read_in, read_diagram, dialect)

    if setup.er_diagram is not None:
        line, col = located.content_start(("er_diagram",))
        try:
            check_diagram_text(setup.er_diagram, shown)
            diagram = read_diagram(setup.er_diagram, shown)
        except SpecError as exc:
            raise SpecError(_shift(exc.problems, shown, line, col)) from None
        except PluginError as exc:
            raise _unread(exc, shown, shown, line, col) from None
    else:
        reason = outside(folder, setup.er_diagram_path) if setup.er_diagram_path is not None else None
        if reason:
            raise SpecError(Problem(shown, *located.at(("er_diagram_path",)), f"er_diagram_path: {reason}",
                                    "name a diagram file inside the spec folder, such as 'diagram.mermaid'"))
        diagram_path = folder / (setup.er_diagram_path or DIAGRAM_FILE)
        if not diagram_path.is_file():
            where = located.at(("er_diagram_path",)) if setup.er_diagram_path else (1, 1)
            raise SpecError(Problem(shown, *where, f"diagram file {display_path(diagram_path)} not found",
                                    "add diagram.mermaid beside setup.yaml, or set er_diagram_path "
                                    "or an inline er_diagram"))
        text = _read_text(diagram_path)
        check_diagram_text(text, display_path(diagram_path))
        try:
            diagram = read_diagram(text, display_path(diagram_path))
        except PluginError as exc:
            raise _unread(exc, display_path(diagram_path), display_path(diagram_path), 1, 1) from None
    if not diagram.entities:  # a reader may accept an empty diagram (Mermaid draws one); a spec needs entities
        where = (shown, *located.content_start(("er_diagram",))) if setup.er_diagram is not None else (
            display_path(diagram_path), 1, 1)
        raise SpecError(Problem(*where, "the diagram declares no entities",
                                "add at least one line such as 'CUSTOMER ||--o{ ORDER : places'"))

    spec = Spec(folder=folder, setup_path=setup_path, setup=setup, diagram=diagram,
                notes=legacy_notes + diagram.reading)
    problems = (_role_problems(spec, located) if check_roles else []) + _document_problems(spec, located) \
        + _trial_problems(spec, located)
    if problems:
        raise SpecError(problems)
    return spec


def _read_in(read_diagram: DiagramReaderFn, dialect: str, text: str, where: str) -> Diagram:
    return read_diagram(text, where, dialect)


def _dialect_problems(setup: Setup, located: _Located, known: Callable[[], Collection[str]] | None) -> list[Problem]:
    """setup.yaml's ``sql_dialect`` must name a dialect a diagram reader takes."""
    name = setup.sql_dialect
    if name is None or known is None:
        return []
    dialects = list(known())
    if name.lower() in dialects:
        return []
    line, col = located.at(("sql_dialect",))
    if not dialects:
        return [Problem(located.path, line, col, "sql_dialect: no loaded diagram reader takes a dialect",
                        "the sql plugin does (see 'janus plugins'); or remove sql_dialect")]
    return [Problem(located.path, line, col, f"sql_dialect: unknown SQL dialect '{name}'."
                    + did_you_mean(name.lower(), dialects), f"dialects: {', '.join(dialects)}")]


def _unread(exc: PluginError, where: str, path: str, line: int, col: int) -> SpecError:
    """No diagram reader takes the text (an empty inline diagram, a file of another kind)."""
    return SpecError(Problem(path, line, col, str(exc).removeprefix(f"{where}: "),
                             "a Mermaid diagram starts with 'erDiagram', SQL DDL with CREATE TABLE; other "
                             "formats need a diagram-reader plugin"))


def _document_problems(spec: Spec, located: _Located) -> list[Problem]:
    """Every ``documents:`` entry must name files Janus can read."""
    from janus_core.spec.documents import SUFFIXES, DocumentError, find_documents

    setup, problems = spec.setup, []
    if setup.documents and setup.chunking.overlap >= setup.chunking.words:
        line, col = located.at(("chunking", "overlap"))
        problems.append(Problem(located.path, line, col, f"chunking.overlap ({setup.chunking.overlap}) must be "
                                f"smaller than chunking.words ({setup.chunking.words})", "lower the overlap"))
    try:
        found = find_documents(spec.folder, setup.documents)
    except DocumentError as exc:
        line, col = located.at(("documents", exc.index))
        return [*problems, Problem(located.path, line, col, f"documents: '{exc.entry}': {exc.message}", exc.hint)]
    for i, paths in found:
        line, col = located.at(("documents", i))
        if not paths:
            problems.append(Problem(located.path, line, col, f"documents: '{setup.documents[i]}' names no file",
                                    f"paths and globs are relative to {display_path(spec.folder)}"))
        for path in paths:
            if path.suffix.lower() not in SUFFIXES:
                problems.append(Problem(located.path, line, col, f"documents: {display_path(path)} is not a "
                                        f"document Janus reads", f"use {', '.join(SUFFIXES)} files"))
    return problems


def _entity_names(diagram: Diagram) -> dict[str, str]:
    """Entity names and aliases (in NFC form, as a role is read) -> the entity's name."""
    names = {nfc(name): name for name in diagram.entities}
    names.update({nfc(e.alias): e.name for e in diagram.entities.values() if e.alias})
    return names


def _role_problems(spec: Spec, located: _Located) -> list[Problem]:
    names = _entity_names(spec.diagram)
    listing = ", ".join(spec.diagram.entities)
    problems = []
    setup = spec.setup
    if setup.user_role not in names:
        line, col = located.at(("user_role",))
        problems.append(Problem(located.path, line, col,
                                f"user_role '{setup.user_role}' is not an entity of the diagram."
                                f"{did_you_mean(setup.user_role, names)}",
                                f"entities: {listing}"))
    if setup.assistant_role not in names:
        if setup.assistant_in_diagram:
            line, col = located.at(("assistant_role",))
            problems.append(Problem(located.path, line, col,
                                    f"assistant_role '{setup.assistant_role}' is not an entity of the diagram."
                                    f"{did_you_mean(setup.assistant_role, names)}",
                                    f"entities: {listing}. If the assistant is deliberately outside the "
                                    "diagram (a general helper, say), add 'assistant_in_diagram: false'"))
        else:
            spec.notes.append(f"assistant_role '{setup.assistant_role}' is outside the diagram "
                              "(assistant_in_diagram: false)")
    elif not setup.assistant_in_diagram:
        spec.notes.append(f"assistant_in_diagram is false, but '{setup.assistant_role}' is an entity of the diagram")
    return problems


def filter_options(given: dict[str, dict[str, Any]], filters: dict, located: _Located | None = None,
                   base: Path | None = None) -> dict[str, Any]:
    """Each named filter's options, validated against its ``Options`` model; SpecError names the place."""
    where = located.path if located else "filter options"
    checked: dict[str, Any] = {}
    missing: list[Problem] = []
    for name, options in given.items():
        loc = ("filter_options", name)
        if name not in filters:
            line, col = located.at(loc, key=True) if located else (1, 1)
            raise SpecError(Problem(where, line, col, f"filter_options: unknown filter '{name}'."
                                    f"{did_you_mean(name, filters)}",
                                    f"registered filters: {', '.join(sorted(filters))}"))
        model = filters[name].obj.Options
        if model is None:
            if options:
                line, col = located.at(loc, key=True) if located else (1, 1)
                raise SpecError(Problem(where, line, col, f"filter '{name}' takes no options",
                                        "remove its entry under filter_options"))
            continue
        try:
            checked[name] = model.model_validate(options or {}, strict=True)  # as setup.yaml's own values
        except ValidationError as exc:
            problems = []
            for err in exc.errors():
                full = (*loc, *err["loc"])
                line, col = located.at(full, key=err["type"] == "extra_forbidden") if located else (1, 1)
                known = ", ".join(model.model_fields)
                problems.append(Problem(where, line, col, f"{'.'.join(map(str, full))}: {err['msg']}",
                                        f"options of '{name}': {known}"))
            raise SpecError(problems) from None
        if base is not None:
            missing += _missing_files(checked[name], loc, base, located, where)
    if missing:
        raise SpecError(missing)
    return checked


def option_errors(spec: Spec, exc: OptionsError, flags: Iterable[str] = ()) -> JanusError:
    """A backend's OptionsError as the user's error: each setup.yaml ``model.options`` value at its
    line and column, each ``--option`` value (``flags`` names them) by its flag."""
    flags = set(flags)
    located = _Located(_read_text(spec.setup_path), display_path(spec.setup_path))
    known = f"options of the {exc.owner}: {', '.join(exc.known) or 'none'}"
    given, problems = [], []
    for loc, message in exc.errors:
        dotted = ".".join(map(str, loc))
        if loc and loc[0] in flags:
            given.append(f"--option {dotted}: {message}")
            continue
        line, col = located.at(("model", "options", *loc), key=message == "unknown option")
        problems.append(Problem(located.path, line, col, f"model.options.{dotted}: {message}", known))
    if given:
        return JanusError(f"{'; '.join(given)} ({known})")
    return SpecError(problems)


def _missing_files(options: Any, loc: tuple, base: Path, located: _Located | None, where: str) -> list[Problem]:
    """Options the model names in ``path_fields`` are files relative to the spec folder: they must exist."""
    problems = []
    for name in options.path_fields:
        value = getattr(options, name)
        values = value if isinstance(value, list) else [value]
        for i, item in enumerate(values):
            at = (*loc, name, i) if isinstance(value, list) else (*loc, name)
            line, col = located.at(at) if located else (1, 1)
            reason = outside(base, str(item)) if item is not None and located is not None else None
            if reason:  # setup.yaml's files stay in the spec folder; the command line's may be anywhere
                problems.append(Problem(where, line, col, f"{'.'.join(map(str, at[1:]))}: {reason}",
                                        f"paths are relative to {display_path(base)}"))
            elif item is not None and not (base / Path(item).expanduser()).is_file():
                problems.append(Problem(where, line, col, f"{'.'.join(map(str, at[1:]))}: file {item} not found",
                                        f"paths are relative to {display_path(base)}"))
    return problems


def check_plugins(spec: Spec, output_types: dict, directions: dict, filters: dict | None = None,
                  backends: dict | None = None) -> list[str]:
    """Raise SpecError for an unknown output type, filter or backend; return notes (free-text directions)."""
    setup = spec.setup
    located = _Located(_read_text(spec.setup_path), display_path(spec.setup_path))
    named = [(("model", "backend"), setup.model.backend)]
    named += [(("model", "roles", role, "backend"), options.backend) for role, options in setup.model.roles.items()]
    for loc, name in named:
        if backends is not None and name is not None and name not in backends:
            line, col = located.at(loc)
            raise SpecError(Problem(located.path, line, col, f"{'.'.join(loc)}: unknown backend '{name}'."
                                    f"{did_you_mean(name, backends)}",
                                    f"registered backends: {', '.join(sorted(backends))} (see 'janus plugins')"))
    if setup.output_type not in output_types:
        line, col = located.at(("output_type",))
        raise SpecError(Problem(located.path, line, col,
                                f"unknown output_type '{setup.output_type}'."
                                f"{did_you_mean(setup.output_type, output_types)}",
                                f"registered output types: {', '.join(sorted(output_types))}"))
    for i, name in enumerate(setup.filters or []):
        if filters is not None and name not in filters:
            line, col = located.at(("filters", i))
            raise SpecError(Problem(located.path, line, col, f"unknown filter '{name}'.{did_you_mean(name, filters)}",
                                    f"registered filters: {', '.join(sorted(filters))}"))
    if filters is not None:
        filter_options(setup.filter_options, filters, located, spec.folder)
    notes = []
    inline = {d.name for d in setup.directions}
    for key in ("seed_directions", "derivational_directions"):
        for text in getattr(setup, key):
            if text not in directions and text not in inline:
                notes.append(f"{key}: '{text}' is not a registered direction; it is used as a free-text "
                             f"style direction.{did_you_mean(text, directions)}")
    return notes


def check_tool_names(spec: Spec, known: Collection[str]) -> None:
    """SpecError at its place in setup.yaml for a ``tools:`` name or glob that matches no tool in ``known``."""
    import fnmatch

    options = spec.setup.tools
    if options is None:
        return
    located = _Located(_read_text(spec.setup_path), display_path(spec.setup_path))
    named = [(("tools", key, i), name, False) for key in ("allow", "deny")
             for i, name in enumerate(getattr(options, key))]
    named += [(("tools", "describe", name), name, True) for name in options.describe]
    problems = []
    for loc, name, key in named:
        if not any(fnmatch.fnmatchcase(tool, name) for tool in known):
            line, col = located.at(loc, key=key)
            problems.append(Problem(located.path, line, col, f"tools.{loc[1]}: no tool named '{name}'."
                                    f"{did_you_mean(name, known)}", "list the tools with 'janus world SPEC --tools'"))
    if problems:
        raise SpecError(problems)


def spec_files(spec: Spec) -> dict[str, str]:
    """The spec's own files by name: setup.yaml and, unless the diagram is inline, the diagram file."""
    files = {spec.setup_path.name: _read_text(spec.setup_path)}
    if spec.setup.er_diagram is None:
        path = spec.folder / (spec.setup.er_diagram_path or DIAGRAM_FILE)
        files[path.name] = _read_text(path)
    return files
