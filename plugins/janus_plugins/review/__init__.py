"""The review page: ``janus review OUT`` serves a local web page to keep, discard or edit records."""

from __future__ import annotations

from typing import Any

from janus_core import hookimpl


@hookimpl
def register_commands(cli: Any) -> None:
    from janus_plugins.review.command import review

    cli.add_command(review)
