"""Janus: synthetic fine-tuning data from a described situation.

This module is the front door plugin authors import from::

    from janus_core import Backend, Direction, Filter, Options, OutputType, Record, Sink, hookimpl

and where notebooks start: ``janus_core.generate(spec, ...)`` runs a spec as ``janus generate`` does
and ``janus_core.load_records(path)`` reads back any file Janus writes.

Names are resolved on first use, so importing ``janus_core`` stays cheap (``janus --help`` is fast).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from janus_core.sdk.hookspecs import hookimpl

__version__ = "0.1.0"

#: public name -> module that defines it
_EXPORTS = {
    "Ask": "janus_core.sdk.contracts",
    "Backend": "janus_core.sdk.contracts",
    "BatchState": "janus_core.sdk.contracts",
    "Completion": "janus_core.sdk.contracts",
    "CompletionRequest": "janus_core.sdk.contracts",
    "DiagramReader": "janus_core.sdk.contracts",
    "Direction": "janus_core.sdk.contracts",
    "Filter": "janus_core.sdk.contracts",
    "Limits": "janus_core.sdk.contracts",
    "Message": "janus_core.sdk.contracts",
    "OutputType": "janus_core.sdk.contracts",
    "RememberingFilter": "janus_core.sdk.contracts",
    "Sink": "janus_core.sdk.contracts",
    "ToolCall": "janus_core.sdk.contracts",
    "assistant_message": "janus_core.sdk.contracts",
    "tool_message": "janus_core.sdk.contracts",
    "GenerateOption": "janus_core.sdk.contracts",
    "Imported": "janus_core.sdk.contracts",
    "Tool": "janus_core.sdk.contracts",
    "Options": "janus_core.sdk.options",
    "OptionsError": "janus_core.sdk.options",
    "Record": "janus_core.sdk.records",
    "BackendError": "janus_core.sdk.errors",
    "JanusError": "janus_core.sdk.errors",
    "PluginError": "janus_core.sdk.errors",
    "Problem": "janus_core.sdk.errors",
    "SpecError": "janus_core.sdk.errors",
    "Diagram": "janus_core.spec.diagram",
    "Spec": "janus_core.spec.model",
    "load_spec": "janus_core.spec.model",
    "load_plugins": "janus_core.plugins",
    "generate": "janus_core.api",
    "GenerateResult": "janus_core.api",
    "load_records": "janus_core.api",
}

__all__ = ["__version__", "hookimpl", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'janus_core' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


# generate, GenerateResult and load_records (janus_core.api) are left out below: the import linter
# would read the front door as importing every layer from every layer
if TYPE_CHECKING:  # pragma: no cover - for type checkers and editors
    from janus_core.plugins import load_plugins
    from janus_core.sdk.contracts import (
        Ask,
        Backend,
        BatchState,
        Completion,
        CompletionRequest,
        DiagramReader,
        Direction,
        Filter,
        GenerateOption,
        Limits,
        Message,
        OutputType,
        RememberingFilter,
        Sink,
        Tool,
        ToolCall,
        assistant_message,
        tool_message,
    )
    from janus_core.sdk.errors import BackendError, JanusError, PluginError, Problem, SpecError
    from janus_core.sdk.options import Options, OptionsError
    from janus_core.sdk.records import Record
    from janus_core.spec.diagram import Diagram
    from janus_core.spec.model import Spec, load_spec
