"""``janus world``: the click command of the world plugin."""

from __future__ import annotations

import json
from pathlib import Path

import click

from janus_core.cli import echo, get_plugins, reports_errors


@click.command()
@click.argument("spec", type=click.Path(exists=True, file_okay=True, dir_okay=True))
@click.option("--rows", type=click.IntRange(1, 100_000), default=20, show_default=True,
              help="Rows per table (fewer where the keys allow fewer: a one-to-one link, a short list of choices).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="The seed every value is drawn from: the same seed builds the same world.")
@click.option("--out", type=click.Path(dir_okay=False), default="world.sqlite", show_default=True,
              help="The SQLite file to write (replaced atomically; a file that is not a world is never replaced).")
@click.option("--tools", "show_tools", is_flag=True,
              help="Also list the tools an assistant gets on this world (after setup.yaml's tools: section).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object instead of text.")
@click.pass_context
@reports_errors
def world(ctx: click.Context, spec: str, rows: int, seed: int, out: str, show_tools: bool, as_json: bool) -> None:
    """Build a world: the diagram as an SQLite database filled with rows.

    SPEC is a spec folder (or its setup.yaml) or a diagram file (diagram.mermaid, schema.sql). One
    table per entity, typed columns, primary, unique and foreign keys (a join table for a
    many-to-many link), and rows drawn with Faker from --seed that respect every key and fit each
    attribute's type, name and note. Tools (get, search, create, update, delete, lookups) are made
    from it for tool-use data; each conversation works on a private copy.
    """
    from janus_core.sdk.errors import JanusError
    from janus_plugins.world.build import build_world, load_schema
    from janus_plugins.world.tools import tools_for

    plugins = get_plugins(ctx)
    path, loaded = Path(spec), None
    if path.is_dir() or path.suffix in (".yaml", ".yml"):
        from janus_core.spec.model import load_spec

        loaded = load_spec(path, plugins.read_diagram, check_roles=False, dialects=plugins.diagram_dialects)
        source = loaded
    else:
        from janus_core.spec.drawing import read_diagram_file

        source = read_diagram_file(path, plugins)
    target = Path(out)
    if target.exists():
        import sqlite3

        try:
            with sqlite3.connect(f"file:{target}?mode=ro", uri=True) as conn:
                load_schema(conn)
        except (JanusError, sqlite3.Error):
            raise JanusError(f"{out} exists and is not a world file; give another --out") from None
    summary = build_world(source, rows=rows, seed=seed, out=target)
    extra = [r.obj for r in plugins.registry.tools.values()]
    tools = tools_for(summary.schema, extra=extra, spec=loaded)
    if as_json:
        click.echo(json.dumps({"path": str(summary.path), "seed": seed, "tables": summary.rows, "keys": summary.keys,
                               "state_hash": summary.hash, "tools": [t.name for t in tools]}, ensure_ascii=False))
        return
    for line in summary.lines():
        echo(line)
    echo(f"tools: {len(tools)}" + ("" if show_tools else " (list them with --tools)"))
    if show_tools:
        for tool in tools:
            echo(f"  {tool.name}: {tool.description}")
