"""The plugin manager: built-ins by name, then entry points of the ``janus`` group, then ``--plugin``.

Built-in features live in ``janus_plugins`` (one subpackage each) and load first, in the fixed order
of ``BUILTINS``; third-party packages load after them through the ``janus`` entry-point group, so a
third party may replace a built-in's name. Turn built-ins or entry-point plugins off by name with
``JANUS_DISABLE_PLUGINS=name,name`` or ``janus --no-plugin NAME``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

import pluggy

from janus_core.sdk import hookspecs
from janus_core.sdk.contracts import (
    Backend,
    DiagramReader,
    Direction,
    Filter,
    GenerateOption,
    OutputType,
    Registered,
    Sink,
    Tool,
)
from janus_core.sdk.errors import PluginError, did_you_mean

ENTRY_POINT_GROUP = "janus"
#: First-party plugins, loaded from ``janus_plugins.<name>`` in this order before any entry point.
BUILTINS = ("erdiagram", "sql", "evol", "outputs", "filters", "sinks", "local", "openai", "litellm", "gemini",
            "anthropic", "hf", "review", "world")
DISABLE_ENV = "JANUS_DISABLE_PLUGINS"


def disabled_names(extra: tuple[str, ...] | list[str] = ()) -> set[str]:
    """Plugin names turned off by ``JANUS_DISABLE_PLUGINS`` (comma-separated) and ``--no-plugin``."""
    names = {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}
    return names | set(extra)
KINDS = ("backends", "directions", "output_types", "sinks", "diagram_readers", "filters", "generate_options",
         "tools")
#: What each kind's ``register`` takes: a subclass (backends, sinks) or an instance of its base class.
BASES: dict[str, tuple[type, bool]] = {
    "backends": (Backend, True), "sinks": (Sink, True), "directions": (Direction, False),
    "output_types": (OutputType, False), "diagram_readers": (DiagramReader, False), "filters": (Filter, False),
    "generate_options": (GenerateOption, False), "tools": (Tool, False)}


class Registry:
    """Everything the loaded plugins registered, by kind and name.

    Each kind is collected on first use, so listing commands or adding ``generate`` flags does not
    import every plugin's filters or backends.
    """

    backends: dict[str, Registered]
    directions: dict[str, Registered]
    output_types: dict[str, Registered]
    sinks: dict[str, Registered]
    diagram_readers: dict[str, Registered]
    filters: dict[str, Registered]
    generate_options: dict[str, Registered]
    tools: dict[str, Registered]

    def __init__(self, pm: pluggy.PluginManager):
        self._pm = pm

    def __getattr__(self, kind: str) -> dict[str, Registered]:
        if kind not in KINDS:
            raise AttributeError(kind)
        table: dict[str, Registered] = {}
        # pluggy lists implementations oldest first; call them so that later wins.
        for impl in getattr(self._pm.hook, f"register_{kind}").get_hookimpls():

            def register(obj: Any, _impl=impl) -> None:
                name = _checked_name(kind, obj, _impl.plugin_name)
                table[name] = Registered(name, obj, _impl.plugin_name)

            impl.function(register=register)
        setattr(self, kind, table)
        return table

    def get(self, kind: str, name: str) -> Any:
        """The object registered under ``name``; PluginError with a did-you-mean if none is."""
        table: dict[str, Registered] = getattr(self, kind)
        if name not in table:
            singular = kind[:-1].replace("_", " ")
            known = ", ".join(sorted(table)) or "none"
            raise PluginError(f"no {singular} named '{name}'.{did_you_mean(name, table)} "
                              f"Registered: {known}. See 'janus plugins'.")
        return table[name].obj


def _checked_name(kind: str, obj: Any, plugin: str) -> str:
    """The name of a registered object, once it is checked to be what ``kind`` takes."""
    base, as_class = BASES[kind]
    fits = isinstance(obj, type) and issubclass(obj, base) if as_class else isinstance(obj, base)
    if not fits:
        wanted = f"a subclass of janus_core.{base.__name__}" if as_class else f"a janus_core.{base.__name__}"
        raise PluginError(f"plugin '{plugin}' registered {obj!r} as one of its {kind.replace('_', ' ')}; "
                          f"register_{kind} takes {wanted}")
    name = obj.name
    if not isinstance(name, str) or not name:
        raise PluginError(f"plugin '{plugin}' registered {obj!r} without a 'name'")
    return name


class Plugins:
    """A pluggy PluginManager with Janus's hooks, plus where each plugin came from."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("janus")
        self.pm.add_hookspecs(hookspecs)
        self._registry: Registry | None = None
        self.builtins: set[str] = set()
        #: how this set was loaded (``load_plugins``' arguments), so another process can load the same
        self.recipe: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())

    def load_builtins(self, disabled: set[str] = frozenset()) -> None:
        """Register the first-party plugins of ``BUILTINS`` that exist and are not disabled, in order."""
        for name in BUILTINS:
            if name in disabled or self.pm.get_plugin(name) is not None:
                continue
            module_name = f"janus_plugins.{name}"
            if importlib.util.find_spec(module_name) is None:
                continue
            self.pm.register(importlib.import_module(module_name), name=name)
            self.builtins.add(name)
        self._registry = None

    def load_entry_points(self, disabled: set[str] = frozenset()) -> None:
        """Load every plugin advertised in the ``janus`` entry-point group, but disabled names."""
        for name in disabled:
            self.pm.set_blocked(name)
        try:
            self.pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        except Exception as exc:  # a broken third-party package must not hide which one it is
            raise PluginError(f"a plugin of the '{ENTRY_POINT_GROUP}' entry-point group failed to load: "
                              f"{type(exc).__name__}: {exc}") from exc
        self._registry = None

    def load(self, spec: str) -> None:
        """Load a ``--plugin`` value: an importable module name or a path to a .py file."""
        path = Path(spec)
        if self.pm.get_plugin(str(path) if spec.endswith(".py") or path.is_file() else spec) is not None:
            return  # loaded already (the group and the command both hand on --plugin values)
        if spec.endswith(".py") or path.is_file():
            if not path.is_file():
                raise PluginError(f"--plugin {spec}: no such file")
            name = f"janus_plugin_{path.stem}"
            module_spec = importlib.util.spec_from_file_location(name, path)
            if module_spec is None or module_spec.loader is None:
                raise PluginError(f"--plugin {spec}: not a Python file")
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[name] = module
            try:
                module_spec.loader.exec_module(module)
            except Exception as exc:
                raise PluginError(f"--plugin {spec}: {type(exc).__name__}: {exc}") from exc
            label = str(path)
        else:
            try:
                module = importlib.import_module(spec)
            except ImportError as exc:
                raise PluginError(f"--plugin {spec}: cannot import it ({exc}); give a module name "
                                  "on the Python path or a path to a .py file") from exc
            label = spec
        if self.pm.is_registered(module):
            return
        self.pm.register(module, name=label)
        self._registry = None

    def disable(self, name: str) -> None:
        """Unregister a loaded plugin by name (``--no-plugin`` given after plugins were loaded)."""
        if self.pm.get_plugin(name) is not None:
            self.pm.unregister(name=name)
        self.pm.set_blocked(name)
        self._registry = None

    def origin(self, plugin: object) -> str:
        """'package version' for built-in and entry-point plugins, '--plugin' otherwise."""
        if self.pm.get_name(plugin) in self.builtins:
            from janus_core import __version__

            return f"janus-data {__version__} (built-in)"
        for plug, dist in self.pm.list_plugin_distinfo():
            if plug is plugin:
                return f"{dist.project_name} {dist.version}"
        return "--plugin"

    @property
    def registry(self) -> Registry:
        """What every plugin registers, by kind; plugins loaded later replace earlier names."""
        if self._registry is None:
            self._registry = Registry(self.pm)
        return self._registry

    def read_diagram(self, text: str, where: str, dialect: str | None = None) -> Any:
        """Read a diagram with the first registered reader that detects it, else the one its suffix names;
        ``dialect`` (one of ``diagram_dialects()``) goes to a reader that has dialects."""
        readers = [r.obj for r in self.registry.diagram_readers.values()]
        reader = next((r for r in readers if r.detect(text)), None) or \
            next((r for r in readers if any(where.endswith(s) for s in r.suffixes)), None)
        if reader is None:
            raise PluginError(f"{where}: no registered diagram reader reads it (readers: "
                              f"{', '.join(r.name for r in readers) or 'none'}; see 'janus plugins')")
        if dialect and reader.dialects():
            return reader.read(text, where, dialect=dialect)
        return reader.read(text, where)

    def diagram_dialects(self) -> list[str]:
        """The dialect names the registered diagram readers take (setup.yaml's ``sql_dialect``)."""
        return sorted({d for r in self.registry.diagram_readers.values() for d in r.obj.dialects()})

    def add_commands(self, cli: Any) -> None:
        self.pm.hook.register_commands(cli=cli)


def load_plugins(extra: tuple[str, ...] | list[str] = (), disable: tuple[str, ...] | list[str] = ()) -> Plugins:
    """Built-ins in ``BUILTINS`` order, entry-point plugins, then each ``--plugin`` value in order.

    ``disable`` (``--no-plugin``) and ``JANUS_DISABLE_PLUGINS`` name plugins to leave out.
    """
    plugins = Plugins()
    plugins.recipe = (tuple(extra), tuple(disable))
    disabled = disabled_names(disable)
    plugins.load_builtins(disabled)
    plugins.load_entry_points(disabled)
    for spec in extra:
        plugins.load(spec)
    return plugins
