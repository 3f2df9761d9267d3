"""The hooks a Janus plugin can implement. These docstrings are the plugin author's manual.

A plugin is a module (or package) with functions decorated by ``janus_core.hookimpl``, found
through the ``janus`` entry-point group::

    [project.entry-points.janus]
    my_pack = "my_pack"

or loaded for one run with ``janus --plugin my_pack`` / ``--plugin path/to/file.py``. Each
``register_*`` hook receives a ``register`` function; call it once per object you provide. A
later plugin may register a name again to replace an earlier one (``--plugin`` plugins load
last). Keep plugin modules cheap to import: import provider SDKs inside methods, not at the top.
"""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("janus")
hookimpl = pluggy.HookimplMarker("janus")


@hookspec
def register_backends(register: Any) -> None:
    """Register LLM backends: ``register(BackendClass)``.

    A backend class has ``name`` and ``description`` class attributes, is built as
    ``BackendClass(model=None | str, options=dict)`` and implements
    ``async complete(request: CompletionRequest) -> Completion`` and ``async aclose()``
    (see ``janus_core.sdk.contracts.Backend``). Read secrets from environment variables only.
    """


@hookspec
def register_directions(register: Any) -> None:
    """Register evolving directions: ``register(Direction(name=..., pack=..., ...))``.

    A direction tells the model how a seed is written or how a record evolves; its
    ``instruction(rng)`` text is rendered into the ``{{ direction }}`` placeholder of the spec's
    prompts. Group related directions under one ``pack`` name (see ``janus directions``).
    """


@hookspec
def register_output_types(register: Any) -> None:
    """Register output types: ``register(OutputTypeInstance)``.

    An output type gives the JSON schema the backend must answer in, the format instructions
    for the prompt, and ``parse(data, roles)`` turning a reply into OpenAI-style messages
    (see ``janus_core.sdk.contracts.OutputType``).
    """


@hookspec
def register_sinks(register: Any) -> None:
    """Register dataset sinks: ``register(SinkClass)``.

    A sink class has ``name`` and ``suffixes`` attributes, is built as ``SinkClass(path, options)``
    and implements ``open()``, ``write(records)`` and ``close()``. ``write`` must leave the data
    durable when it returns, so a crash loses nothing already written.
    """


@hookspec
def register_diagram_readers(register: Any) -> None:
    """Register diagram readers: ``register(reader)``.

    A reader has ``name``, ``suffixes`` (such as ``(".mermaid", ".mmd")``), ``detect(text) -> bool``
    and ``read(text, path) -> janus_core.spec.diagram.Diagram``; it raises
    ``janus_core.sdk.errors.SpecError`` with file, line and column on bad input.
    """


@hookspec
def register_filters(register: Any) -> None:
    """Register record filters: ``register(FilterInstance)`` (see ``janus_core.sdk.contracts.Filter``).

    A filter has ``name``, ``description``, ``evolution_only`` (check only records evolved from a
    parent) and ``default`` (on unless setup.yaml ``filters:`` names others), and implements
    ``async check(record, parent, ask) -> str | None``: the reason to eliminate the record, or
    None to keep it. ``ask(messages, schema)`` asks the run's backend (cached, paced and counted
    like every request) and returns the decoded JSON reply, for filters that need a model's view.
    Optional: ``configure(spec, options)`` before a run (to read the roles, say; ``options`` is
    an instance of the filter's ``Options`` pydantic model, from setup.yaml ``filter_options``, or
    None; ``configure(spec)`` with one argument is called so too), ``prime(records)`` with the
    records that exist already (a resumed run's, ``--against`` datasets), and ``recheck`` /
    ``remember`` for filters that remember what they keep (see ``janus_core.sdk.contracts.Filter``).
    An eliminated record goes to the failure ledger as ``eliminated:NAME``; if it was evolved, its
    parent returns to the pool and is evolved again along another direction.
    """


@hookspec
def register_generate_options(register: Any) -> None:
    """Add flags to ``janus generate``: ``register(GenerateOption(option=click.Option(...), apply=fn))``.

    Like pytest's ``pytest_addoption``: the option shows in ``janus generate --help`` and, when the
    user gives it, ``apply(value, filter_options)`` folds it into the run's ``filter_options`` (the
    filters plugin adds ``--min-score``, ``--rubrics``, ``--language`` and ``--decontaminate`` so).
    Give every option help text; ``--no-filters`` refuses to run with any of them.
    """


@hookspec(firstresult=True)
def open_dataset(location: str) -> list[Any] | None:
    """Records of a dataset that is no local path, such as ``--against owner/name`` on a hub.

    Return the records (``janus_core.Record``, as ``janus_core.plan.inputs.conversation_records``
    makes them), or None when ``location`` is not yours; the first plugin that answers wins.
    Raise ``JanusError`` with a clear message when it is yours but cannot be read.
    """


@hookspec
def register_commands(cli: Any) -> None:
    """Add click commands to the ``janus`` command group: ``cli.add_command(command)``."""
