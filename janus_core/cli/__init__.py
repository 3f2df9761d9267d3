"""The ``janus`` command line; progress and summary drawing."""

from janus_core.cli.main import cli, main

__all__ = ["cli", "main"]
