"""Hugging Face datasets: the hf-disk and hf-hub sinks, ``janus push``, and ``--against OWNER/NAME``."""

from __future__ import annotations

from typing import Any

from janus_core import hookimpl


@hookimpl
def register_sinks(register: Any) -> None:
    from janus_plugins.hf.sinks import HfDiskSink, HubSink

    register(HfDiskSink)
    register(HubSink)


@hookimpl
def register_commands(cli: Any) -> None:
    from janus_plugins.hf.command import push

    cli.add_command(push)


@hookimpl
def open_dataset(location: str) -> list[Any] | None:
    """A dataset on the Hub named ``owner/name`` (a private one needs HF_TOKEN)."""
    from janus_plugins.hf.hub import is_repo_id, load_hub_conversations

    return load_hub_conversations(location) if is_repo_id(location) else None
