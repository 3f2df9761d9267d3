"""The ``janus`` command line. Heavy modules are imported inside commands so ``--help`` stays fast."""

from __future__ import annotations

import functools
import json
import sys
from typing import TYPE_CHECKING, Any

import click

from janus_core.sdk.credentials import scrub, scrub_streams
from janus_core.sdk.errors import JanusError, SpecError
from janus_core.sdk.terminal import printable

if TYPE_CHECKING:
    from janus_core.plugins import Plugins
    from janus_core.spec.model import Spec


def _plugin_values(ctx: click.Context) -> list[str]:
    root = ctx.find_root()
    root.ensure_object(dict)
    return root.obj.setdefault("plugins", [])


def _collect_plugins(ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    _plugin_values(ctx).extend(v for v in values if v not in _plugin_values(ctx))
    return values


def _disabled_values(ctx: click.Context) -> list[str]:
    root = ctx.find_root()
    root.ensure_object(dict)
    return root.obj.setdefault("disabled", [])


def _collect_disabled(ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    _disabled_values(ctx).extend(v for v in values if v not in _disabled_values(ctx))
    return values


PLUGIN_HELP = ("Load a plugin for this run: an importable module name or a path to a .py file. "
               "Repeat for several. Built-in plugins and entry-point plugins of the 'janus' group always "
               "load unless turned off with --no-plugin.")
NO_PLUGIN_HELP = ("Turn off a built-in or entry-point plugin by name for this run (see 'janus plugins'). "
                  "Repeat for several; JANUS_DISABLE_PLUGINS=name,name does the same.")


def split_options(f):
    """--test-fraction (alias --eval-fraction) and --seed, for the commands that write a dataset (export, push)."""
    f = click.option("--seed", type=int, default=0, show_default=True, help="Seed for the train/test split.")(f)
    return click.option("--test-fraction", "--eval-fraction", "eval_fraction",
                        type=click.FloatRange(0, 1, max_open=True), default=0.0, show_default=True,
                        help="Share of seeds (with all their evolutions) that go to a split named test beside the "
                        "train split (FILE-train and FILE-test; a test split in hf-disk and on the Hub), as "
                        "'datasets' names them; a seed's evolutions never straddle the two. --eval-fraction is "
                        "the same option.")(f)


def plugin_option(f):
    f = click.option("--no-plugin", "disabled_plugins", multiple=True, metavar="NAME", expose_value=False,
                     callback=_collect_disabled, is_eager=True, help=NO_PLUGIN_HELP)(f)
    return click.option("--plugin", "plugin_specs", multiple=True, metavar="MODULE|FILE.py", expose_value=False,
                        callback=_collect_plugins, is_eager=True, help=PLUGIN_HELP)(f)


def get_plugins(ctx: click.Context) -> Plugins:
    root = ctx.find_root()
    root.ensure_object(dict)
    plugins = root.obj.get("loaded")
    if plugins is None:
        from janus_core.plugins import load_plugins

        plugins = root.obj["loaded"] = load_plugins(_plugin_values(ctx), _disabled_values(ctx))
    else:
        for spec in _plugin_values(ctx):
            plugins.load(spec)
        for name in _disabled_values(ctx):
            plugins.disable(name)
    return plugins


def echo(message: Any = "", err: bool = False, **style: Any) -> None:
    """Print a line (on stderr with ``err``), styled as ``click.secho`` styles it. Its text may come from
    outside (a server's error, a record, a file), so control characters are shown as escapes
    (``printable``): none reaches the terminal."""
    click.secho(printable(str(message)), err=err, **style)


def reports_errors(f):
    """Show JanusErrors as plain messages (exit 1) instead of tracebacks; as JSON lines (``{"event":
    "error", "message": ...}``) for a command given ``--log-json``."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        def say(message: str, prefix: str = "") -> None:
            if kwargs.get("log_json"):
                click.echo(json.dumps({"event": "error", "message": scrub(message)}), err=True)
            else:
                echo(prefix + scrub(message), fg="red", err=True)

        try:
            return f(*args, **kwargs)
        except SpecError as exc:
            for problem in exc.problems:
                say(str(problem))
            sys.exit(1)
        except JanusError as exc:
            say(str(exc), "error: ")
            sys.exit(1)

    return wrapper


class PanelCommand(click.Command):
    """A command whose ``--help`` lists its options in titled sections: ``panels`` maps a title to the
    options' names; options no panel names (those plugins add) go under ``rest``."""

    def __init__(self, *args: Any, panels: dict[str, tuple[str, ...]], rest: str, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.panels, self.rest = panels, rest

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        where = {name: title for title, names in self.panels.items() for name in names}
        rows: dict[str, list[tuple[str, str]]] = {title: [] for title in [*self.panels, self.rest]}
        help_option = self.get_help_option(ctx)
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx) if isinstance(param, click.Option) else None
            if record is not None:
                name = "help" if param is help_option else param.name or ""
                rows[where.get(name, self.rest)].append(record)
        for title, records in rows.items():
            if records:
                with formatter.section(title):
                    formatter.write_dl(records)


EPILOG = """\b
Exit codes: 0 done; 1 an error (a spec problem, a run that made nothing, a check that found
problems); 2 a usage error (an unknown option or value); 3 generate --target fell short;
130 interrupted (Ctrl-C: rerun the same command to continue).

\b
Shell completion (commands, options, file names):
  bash: eval "$(_JANUS_COMPLETE=bash_source janus)"   (in ~/.bashrc)
  zsh:  eval "$(_JANUS_COMPLETE=zsh_source janus)"    (in ~/.zshrc)
  fish: _JANUS_COMPLETE=fish_source janus | source    (in ~/.config/fish/completions/janus.fish)
"""


class JanusGroup(click.Group):
    """Adds commands that plugins register (``register_commands``) when commands are listed."""

    def _plugin_commands(self, ctx: click.Context) -> None:
        if getattr(self, "_plugins_added", False):
            return
        self._plugins_added = True
        try:
            get_plugins(ctx).add_commands(self)
        except JanusError as exc:
            echo(f"warning: {exc}", fg="yellow", err=True)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._plugin_commands(ctx)
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is None:
            self._plugin_commands(ctx)
            command = super().get_command(ctx, name)
        if name == "generate" and command is not None:
            self._plugin_options(ctx, command)
        return command

    def _plugin_options(self, ctx: click.Context, command: click.Command) -> None:
        """Flags plugins add to ``generate`` (``register_generate_options``), added once."""
        if getattr(command, "_plugin_options_added", False):
            return
        command._plugin_options_added = True  # type: ignore[attr-defined]
        try:
            options = get_plugins(ctx).registry.generate_options
        except JanusError as exc:
            echo(f"warning: {exc}", fg="yellow", err=True)
            return
        known = {opt for param in command.params for opt in param.opts}
        at = next(i for i, p in enumerate(command.params) if p.name == "dry_run")
        for reg in options.values():
            if known.isdisjoint(reg.obj.option.opts):
                command.params.insert(at, reg.obj.option)
                at += 1


@click.group(cls=JanusGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
             epilog=EPILOG)
@click.version_option(None, "-V", "--version", package_name="janus-data", prog_name="janus")
@plugin_option
def cli() -> None:
    """Janus: synthetic fine-tuning data from a described situation.

    A spec folder holds setup.yaml (roles, prompts, directions, output type) and diagram.mermaid
    (a Mermaid erDiagram). Janus walks the diagram to write seed prompts, asks a model for seed
    records, evolves them along directions and writes a dataset.
    """
    scrub_streams()  # nothing printed, logged or raised shows a key


def load_checked_spec(ctx: click.Context, path: str, dialect: str | None = None) -> tuple[Spec, Plugins, list[str]]:
    """Load the spec with the registered diagram readers and check names against plugins; ``dialect``
    (``--sql-dialect``) overrides setup.yaml's ``sql_dialect``."""
    from janus_core.spec.loading import load_checked

    plugins = get_plugins(ctx)
    spec, notes = load_checked(path, plugins, dialect)
    return spec, plugins, notes


def plan_line(counts: Any, output_type: str) -> str:
    """The plan as ``validate`` and ``generate --dry-run`` both print it."""
    rounds = f"; {counts.rounds} rounds" if counts.rounds > 1 else ""
    return f"plan: {counts.seeds} seed requests, {counts.derivations} derivations ({output_type}){rounds}"


SPEC_ARG = click.argument("spec", type=click.Path(exists=True, file_okay=True, dir_okay=True))


VERBOSE = click.option("--verbose", "-v", is_flag=True,
                       help="Also list what the diagram reader skipped, statement by statement.")


def _check_dialect(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """``--sql-dialect``: one of the names the diagram readers take (sqlglot's for SQL)."""
    if value is None:
        return None
    from janus_core.sdk.errors import did_you_mean

    known = get_plugins(ctx).diagram_dialects()
    if value.lower() not in known:
        raise click.BadParameter(f"unknown SQL dialect '{value}'.{did_you_mean(value.lower(), known)} "
                                 f"Dialects: {', '.join(known) or 'none (no loaded reader takes one)'}.")
    return value.lower()


SQL_DIALECT = click.option("--sql-dialect", metavar="NAME", callback=_check_dialect,
                           help="Read a schema.sql diagram as this SQL dialect (sqlglot's name: postgres, mysql, "
                           "tsql, oracle, sqlite, snowflake, bigquery, ...) instead of the one its marks suggest; "
                           "overrides setup.yaml's sql_dialect.")


def echo_reading(loaded: Spec, verbose: bool) -> None:
    """What the diagram reader skipped, item by item (its one-line summary is among the spec's notes)."""
    if verbose:
        for line in loaded.diagram.reading_details:
            echo(f"  {line}", err=True)


@cli.command()
@SPEC_ARG
@VERBOSE
@SQL_DIALECT
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON: the summary, or every problem "
              "with its file, line, column, message and hint (exit 1).")
@plugin_option
@click.pass_context
@reports_errors
def validate(ctx: click.Context, spec: str, verbose: bool, sql_dialect: str | None, as_json: bool) -> None:
    """Check a spec folder: setup.yaml, the diagram, roles and plugin names.

    Prints every problem as FILE:LINE:COL with a hint and exits 1, or a short summary and 0.
    """
    from dataclasses import asdict

    from janus_core.plan.graph import build_graph
    from janus_core.run.session import RunSettings, Session

    try:
        loaded, plugins, notes = load_checked_spec(ctx, spec, sql_dialect)
        the_plan = Session(loaded, plugins, RunSettings()).plan
    except SpecError as exc:
        if not as_json:
            raise
        echo(json.dumps({"ok": False, "problems": [asdict(p) for p in exc.problems]}, indent=2))
        sys.exit(1)
    graph, contexts = build_graph(loaded.diagram), the_plan.contexts
    s = loaded.setup
    counts = the_plan.counts()
    docs = the_plan.documents.summary() if the_plan.documents is not None else None
    if docs and docs["unattached"]:
        notes.append(f"{docs['unattached']} document chunks name no entity and ground nothing")
    if as_json:
        echo(json.dumps({"ok": True, "setup": str(loaded.setup_path), "entities": graph.number_of_nodes(),
                         "relationships": graph.number_of_edges(), "seed_contexts": len(contexts),
                         "strategies": list(s.walk.strategies), "output_type": s.output_type,
                         "seed_requests": counts.seeds, "derivations": counts.derivations, "rounds": counts.rounds,
                         "documents": docs, "notes": notes,
                         "reading": loaded.diagram.reading_details if verbose else []}, indent=2, default=str))
        return
    echo(f"ok: {loaded.setup_path}", fg="green")
    echo(f"  diagram: {graph.number_of_nodes()} entities, {graph.number_of_edges()} relationships")
    echo(f"  walk: {len(contexts)} seed contexts ({', '.join(s.walk.strategies)})")
    echo(f"  {plan_line(counts, s.output_type)}")
    if the_plan.per_turn:
        echo(f"  counting: the original tool's: one seed per seed context and direction; the derivations "
                   f"are per turn of each seed ({counts.derivations} for seeds of one turn, "
                   f"{counts.derivations * 3} for three)")
    if docs is not None:
        grounded = sum(1 for c in contexts if any(e in docs["by_entity"] for e in c.entities))
        echo(f"  documents: {docs['chunks']} chunks from {docs['sources']} files; {grounded} of "
                   f"{len(contexts)} seed contexts grounded; chunks per entity: "
                   + (", ".join(f"{k} {v}" for k, v in docs["by_entity"].items()) or "none"))
    for note in notes:
        echo(f"  note: {note}", fg="yellow")
    echo_reading(loaded, verbose)


@cli.command()
@click.argument("name", type=click.Path(file_okay=False))
@click.option("--from", "source", type=click.Path(exists=True, dir_okay=False),
              help="A diagram or schema to start from (diagram.mmd, schema.sql, ...): copied into NAME/, its "
              "entities give the roles. Default: a small starter diagram.")
@SQL_DIALECT
@plugin_option
@click.pass_context
@reports_errors
def init(ctx: click.Context, name: str, source: str | None, sql_dialect: str | None) -> None:
    """Start a spec folder NAME/: setup.yaml (roles guessed from the diagram, every field explained)
    and the diagram. Overwrites nothing."""
    from pathlib import Path

    from janus_core.spec.starter import write_spec

    roles = write_spec(Path(name), get_plugins(ctx), Path(source) if source else None, sql_dialect)
    load_checked_spec(ctx, name)  # what 'janus validate' checks: init never leaves a spec it refuses
    echo(f"wrote {name}/: setup.yaml and the diagram", fg="green")
    echo(f"  roles: user {roles.user}, assistant {roles.assistant} ({roles.why})")
    echo(f"  next: janus validate {name}; janus generate {name} --dry-run")


@cli.command()
@SPEC_ARG
@click.option("--png", type=click.Path(dir_okay=False, writable=True), help="Also draw the graph to this PNG file.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for random walks.")
@click.option("--json", "as_json", is_flag=True, help="Print nodes, edges and the walk plan as JSON.")
@VERBOSE
@SQL_DIALECT
@plugin_option
@click.pass_context
@reports_errors
def graph(ctx: click.Context, spec: str, png: str | None, seed: int, as_json: bool, verbose: bool,
          sql_dialect: str | None) -> None:
    """Print the diagram's graph (entities, relationships) and its walk plan.

    SPEC is a spec folder, its setup.yaml, or a diagram or schema file (diagram.mermaid, schema.sql)
    or a folder holding one without setup.yaml; roles are not checked against the diagram here.
    """
    from janus_core.plan.graph import build_graph, coverage, plan
    from janus_core.spec.diagram import cardinality_phrase
    from janus_core.spec.drawing import load_drawable

    diagram, walk = load_drawable(spec, get_plugins(ctx), sql_dialect)
    if not as_json:
        for line in diagram.reading:
            echo(f"note: {line}", err=True)
        if verbose:
            for line in diagram.reading_details:
                echo(f"  {line}", err=True)
    g = build_graph(diagram)
    contexts = plan(g, walk.strategies, walk.max_path_length, walk.random_walks, seed, walk.cover)
    if as_json:
        data = {"nodes": [{"name": n, **{k: v for k, v in d.items() if k != "attributes"},
                           "attributes": [vars(a) for a in d["attributes"]]} for n, d in g.nodes(data=True)],
                "edges": [{"from": u, "to": v, "key": k, **d} for u, v, k, d in g.edges(keys=True, data=True)],
                "plan": [{"id": c.id, "strategy": c.strategy, "entities": list(c.entities)} for c in contexts],
                "reading": diagram.reading + (diagram.reading_details if verbose else [])}
        echo(json.dumps(data, indent=2, default=list))
    else:
        echo(f"Entities ({g.number_of_nodes()})", bold=True)
        for node, data in g.nodes(data=True):
            attrs = ", ".join(f"{a.type} {a.name}" + (f" {','.join(a.keys)}" if a.keys else "")
                              for a in data["attributes"])
            extras = "; ".join(f"{k}: {v}" for k, v in data["details"].items())
            echo(f"  {node}" + (f" [{data['alias']}]" if data["alias"] else "")
                       + (f"  {{{attrs}}}" if attrs else "") + (f"  ({extras})" if extras else ""))
        echo(f"Relationships ({g.number_of_edges()})", bold=True)
        for u, v, _k, d in g.edges(keys=True, data=True):
            link = "--" if d["identifying"] else ".."
            extras = "; ".join(f"{k}: {val}" for k, val in d["details"].items())
            echo(f"  {u} {link} {v}: {d['label']!r} ({cardinality_phrase(d['left_cardinality'])} to "
                       f"{cardinality_phrase(d['right_cardinality'])})" + (f"  [{extras}]" if extras else ""))
        echo(f"Walk plan ({len(contexts)} seed contexts)", bold=True)
        for c in contexts:
            echo(f"  {c.id}  entities: {', '.join(c.entities)}")
        nodes, edges = coverage(g, contexts)
        state = "every entity and relationship" if not nodes and not edges else \
            f"missing {len(nodes)} entities, {len(edges)} relationships"
        echo(f"Coverage: {state}")
    if png:
        from janus_core.plan.graph import draw_png

        draw_png(g, png)
        echo(f"drew {png}", err=True)


def plugin_filter_options(ctx: click.Context, given: dict[str, dict[str, Any]],
                          values: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """setup.yaml's filter_options with what plugins' generate flags set on top, and the flags given."""
    options = {name: dict(settings or {}) for name, settings in given.items()}
    flags = []
    for reg in get_plugins(ctx).registry.generate_options.values():
        value = values.get(reg.obj.option.name)
        if value is None or value == () or value is False:
            continue
        flags.append(reg.obj.option.opts[0])
        reg.obj.apply(value, options)
    return options, flags


def _parse_options(values: tuple[str, ...]) -> dict[str, Any]:
    from janus_core.sdk.errors import SpecError
    from janus_core.spec.safe_load import load_yaml

    options: dict[str, Any] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r}: write KEY=VALUE", param_hint="--option")
        try:
            options[key.strip()] = load_yaml(value, f"--option {key.strip()}") if value else ""
        except SpecError as exc:
            raise click.BadParameter(exc.problems[0].message, param_hint=f"--option {key.strip()}") from None
    return options


LEGACY_BACKENDS = {"gemini": "gemini", "gpt": "openai"}


LEGACY_REFUSED = ("api_key", "target_filename", "hf_hub_repo_id", "hf_token", "hf_append")


def legacy_flag_problems(values: dict[str, Any]) -> list[str]:
    """What to do instead of the original tool's flags Janus does not take (never showing a value)."""
    problems = []
    if values.get("api_key") is not None:
        problems.append("--api-key is not taken: API keys come from environment variables only, never from the "
                        "command line. Set OPENAI_API_KEY (--backend-llm gpt, --backend openai) or GEMINI_API_KEY "
                        "(--backend-llm gemini, --backend gemini) and run again without --api-key.")
    hub = [flag for flag, name in (("--hf-hub-repo-id", "hf_hub_repo_id"), ("--hf-token", "hf_token"),
                                   ("--hf-append", "hf_append")) if values.get(name)]
    if hub:
        problems.append(f"{'/'.join(hub)}: generate does not upload. After the run, upload with 'janus push OUT "
                        "OWNER/NAME' (it appends unless --replace; add --format janus-legacy for the original's "
                        "columns); the token comes from HF_TOKEN.")
    if values.get("target_filename") is not None:
        problems.append("--target-filename is not taken: Janus writes --out FILE (default "
                        "out/SPECNAME-TYPE.jsonl), never into the spec folder. For the original outputs.json: "
                        "janus export OUT --format janus-legacy --to outputs.json")
    return problems


def _check_against(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    from pathlib import Path

    for value in values:
        if not Path(value).exists() and value.count("/") != 1:
            raise click.BadParameter(f"{value!r} is no file or folder, nor a dataset a plugin opens "
                                     "(a Hugging Face Hub dataset id is written owner/name)")
    return values


def _check_shard(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    from janus_core.plan.shards import Shard
    from janus_core.sdk.errors import JanusError

    try:
        return Shard.parse(value)
    except JanusError as exc:
        raise click.BadParameter(str(exc).removeprefix(f"--shard {value!r}: ")) from None


GENERATE_PANELS = {
    "What to generate": ("output_type", "generation", "s_factor", "d_factor", "rounds", "input_path", "turns",
                         "target", "extend_limit", "max_seeds", "seed", "temperature", "sql_dialect"),
    "Model": ("backend", "model", "options", "option_pairs", "batch", "batch_poll"),
    "Budget and pace": ("concurrency", "rpm", "tpm", "retries", "rate_limit_wait", "max_requests", "max_cost",
                        "executor", "ray_address", "workers", "shard"),
    "Output": ("out", "sink", "overwrite", "retry_failed", "dry_run", "quiet", "log_json", "verbose"),
    "Filters": ("against", "no_filters"),  # and the flags filter plugins add (the rest)
    "Plugins and help": ("plugin_specs", "disabled_plugins", "help"),
}


@cli.command(cls=PanelCommand, panels=GENERATE_PANELS, rest="Filters",
             epilog="Exit codes and shell completion: see 'janus --help'.")
@click.argument("spec", required=False, type=click.Path(exists=True, file_okay=True, dir_okay=True))
@click.option("--target-folder", "target_folder", type=click.Path(exists=True, file_okay=False), hidden=True,
              help="The original tool's name for SPEC.")
@click.option("--backend-llm", type=click.Choice(sorted(LEGACY_BACKENDS)), hidden=True,
              help="The original tool's backend flag: gemini or gpt (openai).")
@click.option("--api-key", "api_key", hidden=True, help="The original tool's flag: refused, keys come from "
              "environment variables.")
@click.option("--target-filename", hidden=True, help="The original tool's flag: refused, see --out.")
@click.option("--hf-hub-repo-id", hidden=True, help="The original tool's flag: refused, see 'janus push'.")
@click.option("--hf-token", hidden=True, help="The original tool's flag: refused, see 'janus push'.")
@click.option("--hf-append", is_flag=True, hidden=True, help="The original tool's flag: refused, see 'janus push'.")
@click.option("--backend", help="Backend name (see 'janus plugins'). Default: setup.yaml model.backend, else "
              "the one the model name picks (gpt-*, o1/o3/o4*, chatgpt-*: openai; claude-*: anthropic; gemini-*: "
              "gemini; provider/model: that backend, or litellm for other providers), else 'local', the embedded "
              "model.")
@click.option("--model", "-m", help="Model name for the backend; without --backend it picks the backend. "
              "Default: setup.yaml model.name, else the backend's default.")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Backend option, such as base_url=http://127.0.0.1:8000/v1 or threads=2; repeatable. "
              "Overrides setup.yaml model.options; 'janus plugins' lists each backend's options. API keys "
              "are never options: they come from environment variables.")
@click.option("-o", "option_pairs", multiple=True, nargs=2, metavar="KEY VALUE",
              help="The same as --option KEY=VALUE, written as the llm tool takes it: -o threads 2.")
@click.option("--type", "output_type", help="Output type: instruct, conversation, or one a plugin registers. "
              "Default: setup.yaml output_type.")
@click.option("--generation", type=click.Choice(["one-shot", "turns"]), help="How records are written: one-shot "
              "(one JSON reply holds a whole record) or turns (one plain-text request per turn, the user's side "
              "role-played). Default: setup.yaml generation, else the backend's (turns for the embedded model).")
@click.option("--s-factor", type=click.IntRange(1), help="Seeds per seed context and seed direction "
              "(default: setup.yaml s_factor).")
@click.option("--d-factor", type=click.IntRange(0), help="Derivations per seed and derivational direction "
              "(default: setup.yaml d_factor).")
@click.option("--input", "input_path", type=click.Path(exists=True), help="Conversations to grow with --type "
              "follow-up: JSONL in messages format (Janus output too), ShareGPT, the original tool's outputs.json "
              "(one JSON array), or a saved Hugging Face dataset.")
@click.option("--turns", type=click.IntRange(2, 50), default=4, show_default=True,
              help="With --type follow-up: grow each conversation until it has this many user turns.")
@click.option("--rounds", type=click.IntRange(1, 20), help="Rounds of evolution: after the first, each evolved "
              "record is evolved once more per round, along a direction drawn by seed (default: setup.yaml rounds, 1).")
@click.option("--out", type=click.Path(dir_okay=False), help="Output file. Default: out/SPECNAME-TYPE.jsonl. "
              "Its journal (FILE.journal.sqlite) sits beside it; rerunning the same command continues the run.")
@click.option("--sink", help="Sink that writes --out (default: chosen by the file's suffix, jsonl).")
@click.option("--overwrite", is_flag=True, help="Start over: delete --out and its journal first.")
@click.option("--retry-failed", is_flag=True, help="Rerun the requests the failure ledger holds (they are "
              "skipped on a plain rerun).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed for walks, direction wording and sampling; the same seed gives the same requests.")
@click.option("--temperature", type=click.FloatRange(0, 2), help="Sampling temperature (default: setup.yaml).")
@click.option("--concurrency", type=click.IntRange(1),
              help="Requests in flight at once (default 32; a backend may allow fewer). For the embedded "
              "model: conversations decoded together (default 8, at most 32).")
@click.option("--rpm", type=click.FloatRange(min=0, min_open=True), help="Most requests per minute to send "
              "(default: setup.yaml model.requests_per_minute). Without a limit Janus sends as fast as "
              "--concurrency allows and slows down on 429s.")
@click.option("--tpm", type=click.IntRange(1), help="Most tokens (prompt plus reply) per minute to send "
              "(default: setup.yaml model.tokens_per_minute).")
@click.option("--retries", "--retry-num", type=click.IntRange(0), default=4, show_default=True,
              help="Retries of a request after a transient error (5xx, timeout, dropped connection), with exponential "
              "backoff; 429s do not count (see --rate-limit-wait).")
@click.option("--max-requests", type=click.IntRange(1), help="Stop cleanly after paying for this many requests.")
@click.option("--rate-limit-wait", type=click.FloatRange(min=0, min_open=True), default=900, show_default=True,
              help="A 429 (rate limit) is retried, at a slower pace and without counting against --retries, until "
              "no request has got through for this many seconds; then the run stops cleanly and a rerun continues.")
@click.option("--max-cost", type=click.FloatRange(min=0, min_open=True), help="Stop cleanly once this many "
              "dollars are spent (prices from litellm's table).")
@click.option("--max-seeds", type=click.IntRange(1), help="Plan at most this many seed requests "
              "(a quick trial; coverage of the diagram may be partial).")
@click.option("--target", type=click.IntRange(1), help="Generate until this many records have passed every "
              "filter, no more: the plan grows (new walks over the diagram, new draws per seed) when it makes too few, "
              "or stops early. Short of it (a budget, --extend-limit, nothing new passing the filters), the summary "
              "says why and the exit status is 3; rerunning the same command continues toward it.")
@click.option("--extend-limit", type=click.IntRange(1), default=10, show_default=True,
              help="With --target: seed requests may grow to this many times the plan's own.")
@click.option("--batch", is_flag=True, help="Send the requests through the provider's batch API (openai: OpenAI's "
              "Batch API, or a compatible server's) at its batch price, about half the online one: slower (a batch "
              "may take up to 24 hours), cheaper. Each evolution round is a batch of its own. A stopped run finds "
              "its batches again when rerun and never submits a request twice.")
@click.option("--batch-poll", type=click.FloatRange(min=0.01), default=30.0, show_default=True,
              help="With --batch: seconds between looks at a running batch.")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Where the requests are made: in this process, or split between Ray workers (the 'ray' extra), "
              "each running the engine on its share of the seeds while this process keeps the one journal and "
              "output; the record ids are a local run's.")
@click.option("--ray-address", metavar="auto|ray://HOST:PORT", help="With --executor ray: the cluster to join "
              "('auto': the one 'ray start' runs on this machine); default: start a local one.")
@click.option("--workers", type=click.IntRange(1), default=2, show_default=True,
              help="With --executor ray: how many workers share the seeds (budgets and paces are divided between "
              "them).")
@click.option("--shard", metavar="I/N", callback=_check_shard,
              help="Plan only share I of N (1-based, e.g. 2/8) of the seeds, for batch schedulers such as Slurm "
              "array jobs: each seed goes to one share by a stable hash of its place in the plan, and its "
              "evolutions follow it. Give each share its own --out, then 'janus merge' the parts: the merged "
              "dataset has the ids a single run would make. --max-seeds then counts this share's seeds.")
@click.option("--against", multiple=True, metavar="FILE|OWNER/NAME", callback=_check_against,
              help="An existing dataset that new records must not duplicate: JSONL in messages format, ShareGPT, "
              "a saved Hugging Face dataset folder, or the id of a dataset on the Hugging Face Hub (owner/name; "
              "a private one needs HF_TOKEN); repeatable.")
@click.option("--no-filters", is_flag=True, help="Keep every record: run none of the elimination filters "
              "(default: setup.yaml filters, else every filter that is on by default; see 'janus plugins').")
@click.option("--dry-run", is_flag=True, help="Print the planned requests (seeds per direction, derivations), "
              "estimated tokens and cost, and whether the run would continue --out's journal; call nothing.")
@click.option("--quiet", "-q", is_flag=True, help="No progress display; only the summary.")
@click.option("--log-json", is_flag=True, help="Progress, notes, errors and the summary as JSON lines on stderr, "
              "for scripts: nothing else is printed there. Without it and without a terminal (CI logs, nohup), "
              "a plain progress line is printed every few seconds.")
@click.option("--verbose", "-v", is_flag=True, help="Details: what the diagram reader skipped, statement by "
              "statement, and every failure's reason (not only the first five).")
@SQL_DIALECT
@plugin_option
@click.pass_context
@reports_errors
def generate(ctx: click.Context, spec: str | None, target_folder: str | None, backend_llm: str | None,
             backend: str | None, model: str | None, options: tuple[str, ...],
             option_pairs: tuple[tuple[str, str], ...],
             output_type: str | None, generation: str | None, s_factor: int | None, d_factor: int | None,
             input_path: str | None,
             turns: int, rounds: int | None,
             out: str | None,
             sink: str | None, overwrite: bool, retry_failed: bool, seed: int, temperature: float | None,
             concurrency: int, rpm: float | None, tpm: int | None, retries: int, max_requests: int | None,
             rate_limit_wait: float,
             max_cost: float | None, max_seeds: int | None, target: int | None, extend_limit: int,
             batch: bool, batch_poll: float, executor: str, ray_address: str | None, workers: int, shard: Any,
             against: tuple[str, ...], no_filters: bool,
             dry_run: bool, quiet: bool, log_json: bool, verbose: bool, sql_dialect: str | None,
             **plugin_values: Any) -> None:
    """Generate a dataset from a spec folder and write it as records finish.

    Everything is journaled beside the output: rerunning the same command after a crash or a
    stop continues where it ended, pays for no request twice and writes no record twice.
    """
    from janus_core.run.generate_settings import GenerateSettings, run_settings
    from janus_core.run.session import Session

    # the original tool's flags Janus refuses arrive with the plugins' flags; take them out first
    refused = legacy_flag_problems({name: plugin_values.pop(name) for name in LEGACY_REFUSED})
    if refused:
        raise click.UsageError("\n".join(refused))
    spec = spec or target_folder
    if spec is None:
        raise click.UsageError("give the spec folder: janus generate SPEC")
    backend = backend or (LEGACY_BACKENDS[backend_llm] if backend_llm else None)
    loaded, plugins, notes = load_checked_spec(ctx, spec, sql_dialect)
    chosen, given = plugin_filter_options(ctx, loaded.setup.filter_options, plugin_values)
    if no_filters and given:
        raise click.UsageError(f"--no-filters runs no filter, so {', '.join(given)} would do nothing")
    options += tuple(f"{key}={value}" for key, value in option_pairs)  # -o KEY VALUE
    asked = GenerateSettings(
        backend=backend, model=model, options=_parse_options(options), out=out, output_type=output_type,
        generation=generation,
        s_factor=s_factor, d_factor=d_factor, filter_options=chosen, no_filters=no_filters, input=input_path,
        turns=turns, rounds=rounds, sink=sink, overwrite=overwrite, retry_failed=retry_failed, seed=seed,
        temperature=temperature, concurrency=concurrency, rpm=rpm, tpm=tpm, retries=retries,
        max_requests=max_requests, rate_limit_wait=rate_limit_wait, max_cost=max_cost, max_seeds=max_seeds,
        target=target, extend_limit=extend_limit, batch=batch, batch_poll=batch_poll, executor=executor,
        ray_address=ray_address, workers=workers, shard=shard, against=against)
    settings = run_settings(loaded, plugins, asked, notes)  # the one path janus_core.generate takes too
    from janus_core.cli.progress import choose_view

    view = choose_view(log_json, quiet, verbose)
    for note in notes:
        view.note(note)
    for line in loaded.diagram.reading_details if verbose else []:
        view.note(line)
    session = Session(loaded, plugins, settings)
    for note in session.notes:  # what --input left out
        view.note(note)
    if dry_run:
        planned = session.estimate()
        estimate = planned.as_dict()
        if log_json:
            echo(json.dumps(estimate))
            return
        cost = "unknown (no price for this model)" if estimate["estimated_cost"] is None \
            else f"${estimate['estimated_cost']:.4f}"
        echo(f"dry run: {estimate['requests']} requests ({estimate['seed_requests']} seeds, "
                   f"{estimate['derivation_requests']} derivations) to {estimate['backend']} ({estimate['model']})")
        echo(f"  {plan_line(planned.counts, loaded.setup.output_type)}")
        echo(f"  estimated tokens: {estimate['estimated_tokens_in']} in, {estimate['estimated_tokens_out']} out; "
                   f"estimated cost: {cost}")
        if estimate["batch_price"] is not None:
            echo(f"  through the provider's batch API, at {estimate['batch_price']:.0%} of the online price "
                       "(the estimate uses it)")
        if loaded.setup.counting == "original" and loaded.setup.output_type == "conversation":
            echo("  derivations are counted for seeds of one turn: the original tool's counting evolves "
                       "every turn of a seed, so each further turn adds as many")
        echo(f"  seed contexts: {estimate['seed_contexts']}; seed requests per direction: "
                   + ", ".join(f"{name} {n}" for name, n in estimate["seed_requests_by_direction"].items()))
        if estimate["refused"]:
            echo(f"  the real run would refuse: {estimate['refused']}; pass --overwrite to start over or "
                        "--out to write elsewhere", fg="yellow")
        elif estimate["already_done"]:
            echo(f"  {estimate['already_done']} records are already in {estimate['out']}'s journal and will "
                       "not be paid again")
        if "target" in estimate:
            _echo_target(estimate["target"], extend_limit)
        return
    stats = session.run(view)
    if stats.target is not None:
        if stats.made < stats.target:
            sys.exit(3)
        return
    empty_share = shard is not None and session.plan.seed_count == 0  # a share may own no seed
    if stats.records + stats.resumed == 0 and not stats.stopped and not empty_share:
        sys.exit(1)


def _echo_target(t: dict[str, Any], extend_limit: int) -> None:
    """The --target part of a dry run."""
    plan = f"the plan makes {t['plan_records']} records"
    if not t["to_make"]:
        echo(f"  target {t['records']}: reached already; nothing to do")
        return
    if t["further_seeds"]:
        plan += (f"; about {t['further_seeds']} further seeds (new walks and draws; {t['further_walks']} new walks "
                 f"found) make up the rest")
    elif t["records"] < t["plan_records"]:
        plan += f"; it stops at {t['records']}"
    cost = "" if t["estimated_cost"] is None else f", about ${t['estimated_cost']:.4f}"
    echo(f"  target {t['records']} records ({t['to_make']} to make): {plan}")
    echo(f"  about {t['requests']} requests{cost}, more if filters eliminate records"
               + ("" if t["reachable"] else f"; the plan may grow to {t['seed_limit']} seeds (--extend-limit "
                  f"{extend_limit}, --max-seeds), which falls short"))


@cli.command()
@click.argument("out", type=click.Path(exists=True))
@click.option("--tree", "tree_of", metavar="SEED_ID", help="Print the evolution tree of this seed record.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON (and write nothing).")
@click.option("--report", "report_dir", type=click.Path(file_okay=False), help="Folder to write report.md and "
              "its PNG plots into. Default: OUT's name with '.report' beside it.")
@click.option("--no-report", is_flag=True, help="Only print; write no report files.")
@click.option("--spec", "spec_folder", type=click.Path(exists=True, file_okay=False), help="The spec folder the "
              "dataset was made from, for coverage (default: the one the run's journal names).")
@plugin_option
@click.pass_context
@reports_errors
def stats(ctx: click.Context, out: str, tree_of: str | None, as_json: bool, report_dir: str | None,
          no_report: bool, spec_folder: str | None) -> None:
    """Report on a dataset: records by output type, direction and depth; coverage of the graph (what
    has records and what has none); near-duplicate rate; lengths; distinct-n diversity; judge scores;
    failures by reason; turns per record, user and assistant words per message, three sample records.
    Prints the report and writes it as Markdown with PNG plots (the 'plot' extra).

    OUT is a run's output or an export: JSON Lines, a JSON array, Parquet, or an hf-disk folder."""
    from pathlib import Path

    from janus_core.cli.report_view import show_report
    from janus_core.data.report import PLOT_EXTRA, build_report, plotting, write_report
    from janus_core.data.stats import evolution_tree

    path = Path(out)
    if tree_of:
        from rich.console import Console

        Console(soft_wrap=True).print(evolution_tree(path, tree_of))
        return
    report = build_report(path, spec_folder, plugins=get_plugins(ctx))
    if as_json:
        echo(json.dumps(report, indent=2))
        return
    show_report(report)
    if not no_report:
        folder = Path(report_dir) if report_dir else path.with_name(path.name + ".report")
        written, images = write_report(report, folder)
        if images:
            echo(f"report written to {written}, with {len(images)} plots beside it: "
                 f"{', '.join(images.values())}", fg="green", err=True)
        elif not plotting():
            echo(f"report written to {written}; no plots were made: they need matplotlib, the 'plot' extra "
                 f"({PLOT_EXTRA})", fg="yellow", err=True)
        else:
            echo(f"report written to {written}; no plots were made: the dataset has nothing to plot",
                 fg="yellow", err=True)


@cli.command()
@click.argument("parts", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="The merged dataset (JSON Lines); its journal is written beside it.")
@click.option("--overwrite", is_flag=True, help="Replace --out and its journal if they exist.")
@reports_errors
def merge(parts: tuple[str, ...], out: str, overwrite: bool) -> None:
    """Merge the outputs of 'janus generate --shard I/N' runs into one dataset and journal.

    The parts must be shares of the same run (spec, backend, model, seed, temperature), split the
    same way, each share once; a missing share is named and the rest are merged. Records keep the
    ids a single run makes; near duplicates across shares are moved to the failure ledger. The
    merged output works with stats, export, review and doctor, and 'janus generate' without --shard
    continues it."""
    from pathlib import Path

    from janus_core.data.merge import merge as merge_parts

    report = merge_parts([Path(p) for p in parts], Path(out), overwrite)
    for line in report.lines():
        echo(line)
    if report.missing:
        echo(f"warning: shard {', '.join(report.missing)} missing", fg="yellow", err=True)


@cli.command()
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--repair", is_flag=True, help="Mend what can be mended: rewrite the output from a good journal, or "
              "keep a damaged journal aside (OUT.journal.sqlite.damaged-TIMESTAMP) and salvage its readable rows "
              "and the output's records into a new one.")
@click.option("--json", "as_json", is_flag=True, help="Print the findings (or what --repair did) as JSON.")
@reports_errors
def doctor(out: str, repair: bool, as_json: bool) -> None:
    """Check a run's journal (integrity, version) and its output, and say what is wrong.

    Exits 1 if something needs repair. Safe while a run writes OUT (it only reads); --repair waits
    for no one: it refuses while a run holds OUT's lock."""
    from pathlib import Path

    from janus_core.run.doctor import diagnose
    from janus_core.run.doctor import repair as mend

    if repair:
        done = mend(Path(out))
        if as_json:
            echo(json.dumps({"out": out, "repaired": list(done)}, indent=2))
            return
        for line in done:
            echo(line)
        return
    found = diagnose(Path(out))
    if as_json:
        echo(json.dumps({"out": out, "healthy": found.healthy, "journal": found.journal, "problem": found.problem,
                         "version": found.version, "counts": found.counts, "output_records": found.output_records,
                         "output_bad_lines": found.output_bad_lines, "bad_rows": [list(r) for r in found.bad_rows],
                         "lines": found.lines()}, indent=2))
    else:
        for line in found.lines():
            echo(line)
    if not found.healthy:
        sys.exit(1)


@cli.command(name="export")
@click.argument("out", type=click.Path(exists=True))
@click.option("--to", "to", required=True, type=click.Path(), help="Where to write: a file, a folder for hf-disk, "
              "or a dataset id (owner/name) for hf-hub.")
@click.option("--format", "fmt", default="messages", show_default=True,
              help="Row format: janus (whole record), messages (OpenAI/TRL conversational; axolotl "
              "chat_template; with tools: OpenAI's fine-tuning, 'tools' beside 'messages', arguments as JSON text), "
              "trl (messages and a 'tools' column, each call's arguments a JSON object as TRL's chat templates read "
              "them), sharegpt (from human/gpt, with tools LLaMA-Factory's function_call and observation turns and "
              "'tools' column: axolotl and LLaMA-Factory; TRL's SFT reads it but keeps the "
              "roles human and gpt, which chat templates do not know: use messages for TRL), alpaca "
              "(earlier turns in 'history', which axolotl's alpaca type drops; LLaMA-Factory's mapping is written "
              "beside), janus-legacy, dpo (TRL conversational preference: prompt, chosen and rejected as message "
              "lists) or dpo-axolotl (messages, chosen and rejected as one message each: axolotl chat_template."
              "default and LLaMA-Factory ranking). OUT may be a file in any of these formats (JSON Lines, a JSON "
              "array or Parquet) or an hf-disk folder.")
@click.option("--min-margin", type=click.FloatRange(min=0), default=1, show_default=True,
              help="dpo formats: leave out pairs whose chosen answer was rated less than this above the rejected "
              "one (ties teach nothing); they are counted.")
@click.option("--reasoning", type=click.Choice(["inline", "field", "drop"]), default=None,
              help="The reasoning a model returned with an answer: inline writes it as <think>...</think> before the "
              "content, field as each message's reasoning_content (messages, trl, dpo formats), drop leaves it out "
              "(the default: training on it teaches a model to think aloud, and OpenAI's fine-tuning refuses "
              "unknown message keys). The janus format keeps the whole record; records without reasoning are "
              "unchanged.")
@click.option("--sink", help="Sink: jsonl, parquet, hf-disk, hf-hub (the Hugging Face Hub, like 'janus push') or "
              "a plugin's (default: by --to's suffix; a path without suffix means hf-disk).")
@split_options
@click.option("--overwrite", is_flag=True, help="Replace files that exist (with hf-hub: replace the dataset's "
              "data, like 'janus push --replace').")
@click.option("--reviewed", is_flag=True, help="Write only the records kept or edited in 'janus review OUT' "
              "(edited ones with their edited messages and meta.review = \"edited\"); discarded and "
              "unreviewed records are left out.")
@plugin_option
@click.pass_context
@reports_errors
def export_command(ctx: click.Context, out: str, to: str, fmt: str, min_margin: float, reasoning: str | None,
                   sink: str | None, eval_fraction: float, seed: int, overwrite: bool, reviewed: bool) -> None:
    """Write a dataset in another format or store, optionally split into train and test by seed.

    With --reviewed, only what a reviewer kept or edited in 'janus review' is written.
    """
    from pathlib import Path

    from janus_core.data.export import export
    from janus_core.run.session import choose_sink

    plugins = get_plugins(ctx)
    target = Path(to)
    sink_cls = choose_sink(plugins, target, sink or (None if target.suffix else "hf-disk"))
    counts = export(Path(out), target, sink_cls, fmt, eval_fraction, seed, overwrite, reviewed,
                    {"min_margin": min_margin, **({"reasoning": reasoning} if reasoning else {})})
    if "report" in counts.get("all", {}):
        for line in counts["all"]["report"]:
            echo(line)
        return
    for name, c in counts.items():
        label = "" if name == "all" else f"{name}: "
        families = f" from {c['seeds']} seed families" if name != "all" else ""
        skipped = f" ({'; '.join(f'{n} records {why}' for why, n in c['skip_reasons'].items())})" \
            if c["skipped"] else ""
        echo(f"{label}{c['written']} rows{families} -> {c['path']}{skipped}")
    for c in counts.values():
        for note in c.get("notes", []):
            echo(f"note: {note}", fg="yellow", err=True)


@cli.command(name="plugins")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@plugin_option
@click.pass_context
@reports_errors
def plugins_command(ctx: click.Context, as_json: bool) -> None:
    """List loaded plugins, the package each comes from, what each registers, and the options each
    backend (-o KEY VALUE, setup.yaml model.options) and filter (filter_options) takes, with their
    defaults, and the flags plugins add to 'janus generate'."""
    from janus_core.plugins import KINDS
    from janus_core.sdk.options import option_help

    plugins = get_plugins(ctx)
    registry = plugins.registry
    rows: dict[str, dict[str, Any]] = {}

    def row(name: str, origin: str) -> dict[str, Any]:
        return rows.setdefault(name, {"name": name, "from": origin, **{k: [] for k in KINDS}, "options": {},
                                      "flags": {}})

    for name, plugin in plugins.pm.list_name_plugin():
        if plugin is not None:  # None: a name turned off (--no-plugin, JANUS_DISABLE_PLUGINS)
            row(name, plugins.origin(plugin))
    for kind in KINDS:
        for reg_name, reg in getattr(registry, kind).items():
            if kind == "generate_options":  # shown as the flag a user types, with its help
                flag = reg.obj.option.opts[0]
                row(reg.plugin, "?")[kind].append(flag)
                rows[reg.plugin]["flags"][flag] = reg.obj.option.help or ""
                continue
            row(reg.plugin, "?")[kind].append(reg_name)
            if kind in ("backends", "filters"):
                help_text = option_help(reg.obj.Options)
                if help_text:
                    rows[reg.plugin]["options"][reg_name] = help_text
    if as_json:
        echo(json.dumps(list(rows.values()), indent=2))
        return
    for entry in rows.values():
        echo(f"{entry['name']}  ({entry['from']})", bold=True)
        for kind in KINDS:
            if entry[kind] and kind != "generate_options":
                echo(f"  {kind.replace('_', ' ')}: {', '.join(entry[kind])}")
        if entry["flags"]:
            echo("  janus generate flags:")
            for flag, text in entry["flags"].items():
                echo(f"    {flag}: {text}")
        for owner, help_text in entry["options"].items():
            echo(f"  {owner} options:")
            for key, text in help_text.items():
                echo(f"    {key}: {text}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the directions as a JSON list.")
@plugin_option
@click.pass_context
@reports_errors
def directions(ctx: click.Context, as_json: bool) -> None:
    """List every registered evolving direction with its pack and description."""
    registry = get_plugins(ctx).registry
    listed = sorted(registry.directions.items(), key=lambda kv: (kv[1].obj.pack, kv[0]))
    if as_json:
        echo(json.dumps([{"name": name, "pack": reg.obj.pack, "description": reg.obj.description,
                          "plugin": reg.plugin} for name, reg in listed], indent=2))
        return
    for name, reg in listed:
        echo(f"{reg.obj.pack:>14}  {name:<20} {reg.obj.description}")


def main() -> None:
    cli(prog_name="janus")


if __name__ == "__main__":  # pragma: no cover
    main()
