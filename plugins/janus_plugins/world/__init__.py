"""Worlds: a diagram as an SQLite database, and the tools an assistant calls on it.

``janus world SPEC --out world.sqlite`` builds one. The API the tool-use output types use::

    from janus_plugins.world import build_world, tools_for, ToolSession, state_hash
"""

from __future__ import annotations

from typing import Any

from janus_core import hookimpl
from janus_plugins.world.build import WorldSummary, build_world, load_schema, state_hash
from janus_plugins.world.run_world import run_world
from janus_plugins.world.session import ToolSession
from janus_plugins.world.tools import tools_for

__all__ = ["ToolSession", "WorldSummary", "build_world", "load_schema", "run_world", "state_hash", "tools_for"]


@hookimpl
def register_commands(cli: Any) -> None:
    from janus_plugins.world.command import world

    cli.add_command(world)
