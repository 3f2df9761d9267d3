"""The hooks a Janus plugin can implement. These docstrings are the plugin author's manual.

A plugin is a module (or package) with functions decorated by ``janus_core.hookimpl``, found
through the ``janus`` entry-point group::

    [project.entry-points.janus]
    my_pack = "my_pack"

or loaded for one run with ``janus --plugin my_pack`` / ``--plugin path/to/file.py``. Each
``register_*`` hook receives a ``register`` function; call it once per object you provide. What
``register`` takes is checked: a subclass of the kind's base class (backends, sinks) or an instance
of it (everything else), all importable from ``janus_core``. Optional members are real members of
those base classes, with defaults: override what you need. A later plugin may register a name
again to replace an earlier one (``--plugin`` plugins load last). Built-ins load first; any plugin
can be turned off by name with ``janus --no-plugin NAME`` or ``JANUS_DISABLE_PLUGINS=NAME,...``.
Keep plugin modules cheap to import: import provider SDKs inside methods, not at the top, and
name an ``Options`` model kept in another module with ``Options = janus_core.Imported("pkg.mod:Name")``
so that pydantic loads only when the options are used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from janus_core.sdk.contracts import (
        Backend,
        DiagramReader,
        Direction,
        Filter,
        GenerateOption,
        OutputType,
        Sink,
        Tool,
    )
    from janus_core.sdk.records import Record

hookspec = pluggy.HookspecMarker("janus")
hookimpl = pluggy.HookimplMarker("janus")


@hookspec
def register_backends(register: Callable[[type[Backend]], None]) -> None:
    """Register LLM backends: ``register(BackendClass)``, a subclass of ``janus_core.Backend``.

    A backend class sets ``name``, ``description`` and ``default_model``, is built as
    ``BackendClass(model=None | str, options=dict)`` and implements
    ``async complete(request: CompletionRequest) -> Completion``; ``start()`` and ``aclose()`` are
    optional. Its options are a ``class Options(janus_core.Options)`` pydantic model (field
    descriptions are the help ``janus plugins`` shows), validated once when the backend is built:
    ``self.options`` is the instance. Keys come from environment variables only: set ``key_env``
    and call ``self.get_key()``; never take a key as an option. A backend with a provider batch API
    (``generate --batch``) sets ``batches = True`` and ``batch_limits`` and implements
    ``batch_submit``, ``batch_poll`` (a ``janus_core.BatchState``), ``batch_results`` and, where the
    provider can tag a batch, ``batch_find``.
    """


@hookspec
def register_directions(register: Callable[[Direction], None]) -> None:
    """Register evolving directions: ``register(Direction(name=..., pack=..., ...))``.

    A direction tells the model how a seed is written or how a record evolves; its
    ``instruction(rng)`` text is rendered into the ``{{ direction }}`` placeholder of the spec's
    prompts. Group related directions under one ``pack`` name (see ``janus directions``).
    """


@hookspec
def register_output_types(register: Callable[[OutputType], None]) -> None:
    """Register output types: ``register(instance)``, an instance of a ``janus_core.OutputType`` subclass.

    An output type gives the JSON schema the backend must answer in (``schema(limits)``), the
    format instructions for the prompt (``output_format(limits, derive)``), and ``parse(data)``
    turning a reply already decoded from JSON into OpenAI-style messages (ValueError if unusable).
    Optional, with defaults on the base class: ``derive(parent, new)`` (default: the parent's
    messages continued), ``sample(rng, parent_meta)`` (something drawn per job, default None),
    ``async finish(record, ask, rng)`` (more requests after the first reply, default none) and
    ``grows``/``grow_direction`` (conversations grown turn by turn).
    """


@hookspec
def register_sinks(register: Callable[[type[Sink]], None]) -> None:
    """Register dataset sinks: ``register(SinkClass)``, a subclass of ``janus_core.Sink``.

    A sink class has ``name`` and ``suffixes`` attributes, is built as ``SinkClass(path, options)``
    and implements ``write(records)``; ``open()`` and ``close()`` are optional. ``write`` must leave
    the data durable when it returns, so a crash loses nothing already written. A sink may count
    the records its format cannot express in ``skipped`` (``janus export`` counts the rest); ``remote``
    sinks (an upload) receive a finished run and say what they did in ``report()``.
    """


@hookspec
def register_diagram_readers(register: Callable[[DiagramReader], None]) -> None:
    """Register diagram readers: ``register(janus_core.DiagramReader(...))``.

    A reader has ``name``, ``suffixes`` (such as ``(".mermaid", ".mmd")``), ``detect(text) -> bool``
    and ``read(text, path) -> janus_core.spec.diagram.Diagram``; it raises
    ``janus_core.sdk.errors.SpecError`` with file, line and column on bad input.
    """


@hookspec
def register_filters(register: Callable[[Filter], None]) -> None:
    """Register record filters: ``register(instance)``, an instance of a ``janus_core.Filter`` subclass.

    A filter has ``name``, ``description``, ``evolution_only`` (check only records evolved from a
    parent) and ``default`` (on unless setup.yaml ``filters:`` names others), and implements
    ``async check(record, parent, ask) -> str | None``: the reason to eliminate the record, or
    None to keep it. It may write what it found into ``record.meta`` (a judge's scores): the meta
    is kept with the record. ``ask(messages, schema)`` asks the run's backend (cached, paced and
    counted like every request) and returns the decoded JSON reply, for filters that need a model's
    view. Optional, with defaults on the base class: ``Options`` (a ``janus_core.Options`` model
    of what setup.yaml ``filter_options.NAME`` may set), ``configure(spec, options)`` before a run
    (``options`` is an ``Options`` instance or None; the validated options are ``self.options``)
    and ``prime(records)`` with the records that exist already (a resumed run's, ``--against``
    datasets). Filters that remember what they keep (duplicates) subclass
    ``janus_core.RememberingFilter`` and implement ``recheck`` and ``remember``.
    An eliminated record goes to the failure ledger as ``eliminated:NAME``; if it was evolved, its
    parent returns to the pool and is evolved again along another direction.
    """


@hookspec
def register_generate_options(register: Callable[[GenerateOption], None]) -> None:
    """Add flags to ``janus generate``: ``register(janus_core.GenerateOption(option=click.Option(...), apply=fn))``.

    Like pytest's ``pytest_addoption``: the option shows in ``janus generate --help`` and, when the
    user gives it, ``apply(value, filter_options)`` folds it into the run's ``filter_options`` (the
    filters plugin adds ``--min-score``, ``--rubrics``, ``--language`` and ``--decontaminate`` so).
    Give every option help text; ``--no-filters`` refuses to run with any of them.
    """


@hookspec(firstresult=True)
def open_dataset(location: str) -> list[Record] | None:
    """Records of a dataset that is no local path, such as ``--against owner/name`` on a hub.

    Return the records (``janus_core.Record``, as ``janus_core.plan.inputs.conversation_records``
    makes them), or None when ``location`` is not yours; the first plugin that answers wins.
    Raise ``JanusError`` with a clear message when it is yours but cannot be read.
    """


@hookspec
def register_tools(register: Callable[[Tool], None]) -> None:
    """Register tools an assistant may call on a world: ``register(instance)``, a ``janus_core.Tool``.

    A world is the SQLite database ``janus world`` builds from the diagram; Janus makes get, search,
    create, update, delete and lookup tools from the diagram itself, and registered tools join them
    (a registered name replaces a generated one). A tool has ``name`` (``^[a-zA-Z0-9_-]{1,64}$``),
    ``description`` and ``parameters`` (a JSON Schema object), and implements ``run(conn,
    arguments)``: ``conn`` is the conversation's private ``sqlite3.Connection`` (run parameterised
    SQL only), ``arguments`` are already checked against ``parameters``; return a JSON-serialisable
    result. Raise ``LookupError`` (no such row) or ``ValueError`` (refused): the assistant gets an
    error result, as from a real API. Each call runs within a row and time bound. setup.yaml's
    ``tools:`` may allow, deny or describe any tool by name.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add click commands to the ``janus`` command group: ``cli.add_command(command)``."""
