"""MkDocs hook: the reference pages written from the code, so they cannot drift from it.

- ``reference/setup-yaml.md``: every setup.yaml key, from the pydantic model in
  ``janus_core/spec/model.py`` (types, defaults, bounds), with the text of each field's
  ``description`` or, where the model has none, of ``setup_fields.yaml`` beside this file. A field
  with no text, or text for a field the model lacks, fails the build.
- ``reference/hooks.md``: the plugin hooks, from the docstrings of ``janus_core/sdk/hookspecs.py``,
  and the base classes' members from ``janus_core/sdk/contracts.py``.
- ``reference/builtins.md``: what the built-in plugins register, with each backend's and filter's
  options from their ``Options`` models.

The CLI reference (``reference/cli.md``) is rendered by mkdocs-click from ``janus_core.cli.main:cli``;
``on_config`` first adds the commands and ``generate`` flags that plugins register, which the
group otherwise adds only when a command line is parsed.
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
# Document the checkout being built, not whatever copy of Janus happens to be installed.
for path in (ROOT / "plugins", ROOT):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


def on_config(config: Any) -> Any:
    """Give mkdocs-click the whole command line: plugin commands (push, review) and plugin flags."""
    import click

    from janus_core.cli.main import cli

    ctx = click.Context(cli, info_name="janus")
    for name in cli.list_commands(ctx):
        cli.get_command(ctx, name)
    return config


def on_page_content(html: str, page: Any, config: Any, files: Any) -> str:
    """mkdocs-click prints click 8.2's "no default" sentinel as it is; show no default as none."""
    if page.file.src_uri == "reference/cli.md":
        html = re.sub(r"<code>Sentinel\.UNSET</code>", "<em>none</em>", html)
    return html


def on_files(files: Any, config: Any) -> Any:
    """Add the generated reference pages."""
    pages = {"reference/setup-yaml.md": setup_page(), "reference/hooks.md": hooks_page(),
             "reference/builtins.md": builtins_page()}
    for uri, text in pages.items():
        files.append(File.generated(config, uri, content=text))
    return files


# --- text helpers ------------------------------------------------------------------------------

def rst_to_md(text: str) -> str:
    """A docstring's reStructuredText as Markdown: ``code`` and ``::`` literal blocks."""
    lines = inspect.cleandoc(text).splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.rstrip().endswith("::"):
            out.append(line)
            continue
        out.append(line.rstrip()[:-1])
        block: list[str] = []
        while i < len(lines) and (not lines[i].strip() or lines[i].startswith("    ")):
            block.append(lines[i][4:])
            i += 1
        while block and not block[0].strip():
            block.pop(0)
        while block and not block[-1].strip():
            block.pop()
        lang = "toml" if block and block[0].startswith("[") else "python"
        out += ["", f"```{lang}", *block, "```", ""]
    return re.sub(r"``(.+?)``", r"`\1`", "\n".join(out))


def sentence(text: str) -> str:
    """A plugin's description as a sentence: a capital first letter."""
    return text[:1].upper() + text[1:]


def cell(text: str) -> str:
    """Text fit for one table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def code(value: str) -> str:
    """Inline code in a table cell (a pipe inside a code span needs no escape)."""
    return f"`{' '.join(str(value).split())}`" if value else ""


# --- setup.yaml --------------------------------------------------------------------------------

def type_name(annotation: Any) -> str:
    """A field's type in the words a YAML author uses."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        named = [type_name(a) for a in args if a is not type(None)]
        text = " or ".join(named)
        return f"{text} or `null`" if type(None) in args else text
    if origin is list:
        return f"list of {type_name(args[0])}"
    if origin is dict:
        return f"mapping of {type_name(args[0])} to {type_name(args[1])}"
    names = {str: "text", int: "whole number", float: "number", bool: "`true` \\| `false`"}
    if annotation in names:
        return names[annotation]
    if annotation is typing.Any:
        return "any value"
    if inspect.isclass(annotation):
        return f"mapping ([{section_title(annotation)}](#{anchor(annotation)}))"
    return str(annotation)


def bounds(info: Any) -> str:
    """The bounds pydantic checks (ge, le, min_length ...)."""
    unit = "characters" if typing.get_origin(info.annotation) is not list else "items"
    words = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<", "min_length": f"at least {{}} {unit}",
             "max_length": f"at most {{}} {unit}"}
    found = []
    for item in info.metadata:
        for key, word in words.items():
            value = getattr(item, key, None)
            if value is not None:
                found.append(word.format(value) if "{}" in word else f"{word} {value:,}")
    return ", ".join(found)


def default_text(info: Any, long_defaults: dict[str, str], key: str) -> str:
    from pydantic import BaseModel

    if info.is_required():
        return "**required**"
    value = info.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "see below"
    if isinstance(value, str) and "\n" in value:
        long_defaults[key] = value
        return "the built-in prompt (below)"
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    return code(text.removesuffix("...").strip() or "''")


SECTIONS: dict[str, str] = {}


def section_title(model: type) -> str:
    return SECTIONS.get(model.__name__, model.__name__)


def anchor(model: type) -> str:
    return re.sub(r"[^a-z0-9]+", "-", section_title(model).lower()).strip("-")


def setup_page() -> str:
    from pydantic import BaseModel

    from janus_core.spec import model as spec_model

    texts_file = HERE / "setup_fields.yaml"
    texts: dict[str, str] = yaml.safe_load(texts_file.read_text(encoding="utf-8"))
    # (model, the dotted prefix its keys are written under, section title)
    walk: list[tuple[type, str]] = [(spec_model.Setup, "")]
    seen: list[tuple[type, str]] = []
    while walk:
        model, prefix = walk.pop(0)
        seen.append((model, prefix))
        for name, info in model.model_fields.items():
            for arg in _models_in(info.annotation):
                sub = {"dict": f"{prefix}{name}.ROLE.", "list": f"{prefix}{name}[]."}.get(
                    _container(info.annotation), f"{prefix}{name}.")
                if all(arg is not m for m, _ in seen + walk):
                    walk.append((arg, sub))
    for model, prefix in seen:
        SECTIONS[model.__name__] = "setup.yaml" if not prefix else prefix.rstrip(".")

    used: set[str] = set()
    missing: list[str] = []
    out = ["# setup.yaml fields", "",
           "Every key setup.yaml may hold, written from the pydantic model that checks it "
           "(`janus_core/spec/model.py`); the build fails if a key is added without a description. "
           "Only `user_role` and `assistant_role` are required. Values are read strictly: a number or "
           "a boolean must be written as one (`s_factor: '3'` and `s_factor: true` are refused), and an "
           "unknown key is an error at its line and column with a did-you-mean. "
           "[The spec folder](../concepts/spec.md) shows an annotated setup.yaml.", ""]
    long_defaults: dict[str, str] = {}
    for model, prefix in seen:
        out += [f"## {section_title(model)} {{#{anchor(model)}}}", ""]
        doc = inspect.getdoc(model)
        if doc and model is not spec_model.Setup:
            out += [rst_to_md(doc), ""]
        out += ["| key | type | default | bounds | meaning |", "|---|---|---|---|---|"]
        for name, info in model.model_fields.items():
            key = f"{prefix}{name}"
            text = info.description or texts.get(key)
            if key in texts:
                used.add(key)
            if not text:
                missing.append(key)
                continue
            out.append(f"| `{name}` | {type_name(info.annotation)} | {default_text(info, long_defaults, key)} | "
                       f"{bounds(info)} | {cell(text)} |")
        out.append("")
    stale = sorted(set(texts) - used)
    if missing or stale:
        raise PluginError(f"{texts_file}: " + "; ".join(
            ([f"no description for setup.yaml key(s) {', '.join(missing)}"] if missing else [])
            + ([f"describes key(s) the model does not have: {', '.join(stale)}"] if stale else [])))
    if long_defaults:
        out += ["## Built-in prompts", "",
                "The default one-shot templates (Jinja2; placeholders as in "
                "[the spec folder](../concepts/spec.md#prompt-placeholders)).", ""]
        for key, value in long_defaults.items():
            out += [f'??? note "Default `{key}`"', "", "    ```jinja", *("    " + ln for ln in value.splitlines()),
                    "    ```", ""]
    assert issubclass(spec_model.Setup, BaseModel)
    return "\n".join(out) + "\n"


def _models_in(annotation: Any) -> list[type]:
    from pydantic import BaseModel

    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models_in(arg)]


def _container(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    return {dict: "dict", list: "list"}.get(origin, "")


# --- plugin hooks and base classes -------------------------------------------------------------

BASE_CLASSES = ("Backend", "Sink", "Filter", "RememberingFilter", "OutputType", "Direction", "DiagramReader",
                "GenerateOption", "CompletionRequest", "Completion", "BatchState", "Limits")


def hooks_page() -> str:
    from janus_core.sdk import hookspecs

    out = ["# Plugin hooks", "",
           "Written from the docstrings of `janus_core/sdk/hookspecs.py` and the base classes of "
           "`janus_core/sdk/contracts.py`. [Write a plugin](../plugins.md) walks through a complete "
           "example.", "", rst_to_md(hookspecs.__doc__ or ""), ""]
    specs = [(name, func) for name, func in vars(hookspecs).items()
             if inspect.isfunction(func) and getattr(func, "janus_spec", None) is not None]
    for name, func in sorted(specs, key=lambda item: item[1].__code__.co_firstlineno):
        marks = func.janus_spec
        signature = re.sub(r"'([^']*)'", r"\1", str(inspect.signature(func)))
        out += [f"## `{name}`", "", "```python", f"def {name}{signature}", "```", ""]
        if marks.get("firstresult"):
            out += ["The first plugin that returns a value other than None wins.", ""]
        out += [rst_to_md(func.__doc__ or ""), ""]
    out += ["## Base classes", "",
            "Import these from `janus_core`. Every optional member is a real member with a default; "
            "override what you need.", ""]
    out += contract_sections()
    return "\n".join(out) + "\n"


def contract_sections() -> list[str]:
    """Each base class: its docstring, then its members with their ``#:`` comments or docstrings."""
    from janus_core.sdk import contracts

    source = inspect.getsource(contracts)
    lines = source.splitlines()
    tree = ast.parse(source)
    out: list[str] = []
    for node in tree.body:
        if not isinstance(node, ast.ClassDef) or node.name not in BASE_CLASSES:
            continue
        out += [f"### `{node.name}`", "", rst_to_md(ast.get_docstring(node) or ""), ""]
        rows = []
        for item in node.body:
            if isinstance(item, (ast.AnnAssign, ast.Assign)):
                target = item.target if isinstance(item, ast.AnnAssign) else item.targets[0]
                if not isinstance(target, ast.Name) or target.id.startswith("_"):
                    continue
                comment = _comment_above(lines, item.lineno)
                annotation = ast.get_source_segment(source, item.annotation) if isinstance(item, ast.AnnAssign) else ""
                annotation = re.sub(r"^ClassVar\[(.*)\]$", r"\1", annotation or "")
                value = ast.get_source_segment(source, item.value) if item.value is not None else ""
                meaning = cell(rst_to_md(comment))
                rows.append(f"| `{target.id}` | {code(annotation)} | {code(value or '')} | {meaning} |")
            elif isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and not item.name.startswith("_"):
                prefix = "async " if isinstance(item, ast.AsyncFunctionDef) else ""
                args = ast.unparse(item.args)
                args = re.sub(r"^(self|cls)(, )?", "", args)
                doc = ast.get_docstring(item) or ""
                rows.append(f"| {code(f'{prefix}{item.name}({args})')} | method | | {cell(rst_to_md(doc))} |")
        if rows:
            out += ["| member | type | default | meaning |", "|---|---|---|---|", *rows, ""]
    return out


def _comment_above(lines: list[str], lineno: int) -> str:
    """The ``#:`` comment lines right above line ``lineno`` (1-based)."""
    found = []
    i = lineno - 2
    while i >= 0 and lines[i].strip().startswith("#:"):
        found.insert(0, lines[i].strip()[2:].strip())
        i -= 1
    return " ".join(found)


# --- built-in plugins --------------------------------------------------------------------------

def builtins_page() -> str:
    from janus_core.plugins import Plugins

    plugins = Plugins()
    plugins.load_builtins()
    registry = plugins.registry
    out = ["# Built-in plugins", "",
           "What the first-party plugins (`plugins/janus_plugins/`) register, written from the registry "
           "the command line uses; `janus plugins` lists the same for the plugins loaded in your "
           "environment, third-party ones included.", ""]

    out += ["## Backends", "",
            "Options are set with `--option KEY=VALUE` (or `-o KEY VALUE`) or setup.yaml `model.options`.", ""]
    for name, reg in registry.backends.items():
        cls = reg.obj
        facts = [f"plugin `{reg.plugin}`", f"default model `{cls.default_model}`" if cls.default_model else "",
                 "key from " + ", ".join(f"`{v}`" for v in cls.key_env) if cls.key_env else "",
                 "provider batch API (`--batch`)" if cls.batches else ""]
        out += [f"### `{name}`", "", sentence(cls.description), "", "; ".join(f for f in facts if f) + ".", ""]
        out += options_table(cls.Options)

    out += ["## Filters", "",
            "Options are set in setup.yaml under `filter_options.NAME`; naming a filter there switches it on.", ""]
    for name, reg in registry.filters.items():
        flt = reg.obj
        state = "on by default" if flt.default else "off until configured"
        scope = "; evolved records only" if flt.evolution_only else ""
        out += [f"### `{name}`", "", sentence(flt.description), "", f"Plugin `{reg.plugin}`; {state}{scope}.", ""]
        out += options_table(flt.Options)

    out += ["## Output types", "", "| name | plugin | what a record holds |", "|---|---|---|"]
    out += [f"| `{n}` | `{r.plugin}` | {cell(r.obj.description)} |" for n, r in registry.output_types.items()]
    out += ["", "## Sinks", "", "| name | plugin | suffixes | writes |", "|---|---|---|---|"]
    out += [f"| `{n}` | `{r.plugin}` | {', '.join(f'`{s}`' for s in r.obj.suffixes)} | {cell(r.obj.description)} |"
            for n, r in registry.sinks.items()]
    out += ["", "## Diagram readers", "", "| name | plugin | suffixes | reads |", "|---|---|---|---|"]
    out += [f"| `{n}` | `{r.plugin}` | {', '.join(f'`{s}`' for s in r.obj.suffixes)} | {cell(r.obj.description)} |"
            for n, r in registry.diagram_readers.items()]
    out += ["", "## Directions", "", "| pack | name | description |", "|---|---|---|"]
    out += [f"| `{r.obj.pack}` | `{n}` | {cell(r.obj.description)} |"
            for n, r in sorted(registry.directions.items(), key=lambda kv: (kv[1].obj.pack, kv[0]))]
    out += ["", "## Flags added to `janus generate`", "", "| flag | plugin | meaning |", "|---|---|---|"]
    for reg in registry.generate_options.values():
        option = reg.obj.option
        out.append(f"| {', '.join(f'`{o}`' for o in option.opts)} | `{reg.plugin}` | {cell(option.help or '')} |")
    return "\n".join(out) + "\n"


def options_table(model: Any) -> list[str]:
    fields = getattr(model, "model_fields", None)
    if not fields:
        return ["Takes no options.", ""]
    rows = ["| option | type | default | meaning |", "|---|---|---|---|"]
    for name, info in fields.items():
        default = "**required**" if info.is_required() else code(
            yaml.safe_dump(info.get_default(call_default_factory=True), default_flow_style=True,
                           width=10_000).strip().removesuffix("...").strip() or "''")
        rows.append(f"| `{name}` | {type_name(info.annotation)} | {default} | {cell(info.description or '')} |")
    return [*rows, ""]
