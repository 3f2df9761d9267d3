"""The one way every command loads a spec: with the diagram readers the loaded plugins register
(Mermaid, SQL DDL, a third party's), so no command silently reads a non-Mermaid diagram as nothing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from janus_core.spec.model import Spec, check_plugins, load_spec

if TYPE_CHECKING:
    from janus_core.plugins import Plugins


def load_plugged_spec(path: str | Path, plugins: Plugins | None = None, check_roles: bool = True,
                      dialect: str | None = None) -> Spec:
    """Load a spec folder (or setup.yaml) with the plugins' diagram readers and backends (for key
    hints); ``plugins`` defaults to the built-ins and installed entry points. ``check_roles=False``
    and ``dialect`` (``--sql-dialect``, over setup.yaml's ``sql_dialect``): see ``load_spec``."""
    if plugins is None:
        from janus_core.plugins import load_plugins

        plugins = load_plugins()
    registry = plugins.registry
    return load_spec(path, plugins.read_diagram, {name: r.obj for name, r in registry.backends.items()},
                     check_roles=check_roles, dialects=plugins.diagram_dialects, dialect=dialect)


def load_checked(path: str | Path, plugins: Plugins, dialect: str | None = None) -> tuple[Spec, list[str]]:
    """The spec loaded as ``load_plugged_spec`` does, and notes on the plugin names it uses."""
    spec = load_plugged_spec(path, plugins, dialect=dialect)
    registry = plugins.registry
    directions = {name: r.obj for name, r in registry.directions.items()}
    notes = check_plugins(spec, registry.output_types, directions, registry.filters, registry.backends)
    return spec, spec.notes + notes
