"""The command line's surface: help text for every option, and a light start-up path."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("pydantic", "openai", "llama_cpp", "networkx", "lark", "jinja2", "rich", "yaml", "json_repair", "httpx",
         "asyncio", "aiohttp", "ssl", "datasets")


def test_help_imports_no_heavy_library():
    code = ("import sys; from janus_core.cli import cli\n"
            "try:\n    cli(['--help'], prog_name='janus')\nexcept SystemExit:\n    pass\n"
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert "generate" in result.stdout


@pytest.mark.parametrize("command", ["generate", "validate", "graph", "plugins", "directions", "export", "review",
                                     "merge",
                                     "push", "stats"])
def test_every_option_has_help(command):
    import click

    from janus_core.cli import cli

    cmd = cli.get_command(click.Context(cli), command)  # review and push come from plugins
    assert cmd.help
    for param in cmd.params:
        if param.param_type_name == "option" and param.name != "help":
            assert param.help, f"{command} --{param.name} has no help"
