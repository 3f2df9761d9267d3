"""Worlds: a diagram as an SQLite database, and the tools an assistant calls on it.

``janus world SPEC --out world.sqlite`` builds one. The API the tool-use output types use::

    from janus_plugins.world import build_world, tools_for, ToolSession, state_hash
"""

from __future__ import annotations

from typing import Any

from janus_core import hookimpl

#: the API, imported on first use: loading plugins for `janus --help` stays cheap
_API = {"build_world": "build", "WorldSummary": "build", "load_schema": "build", "state_hash": "build",
        "run_world": "cached", "ToolSession": "session", "tools_for": "tools"}

__all__ = ["ToolSession", "WorldSummary", "build_world", "load_schema", "run_world", "state_hash", "tools_for"]


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{module}"), name)


@hookimpl
def register_commands(cli: Any) -> None:
    from janus_plugins.world.command import world

    cli.add_command(world)
