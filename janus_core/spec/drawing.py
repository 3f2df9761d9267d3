"""What ``janus graph`` draws: a spec folder's diagram, or a diagram or schema file (or a folder
holding one) with no setup.yaml. Roles are not checked against the diagram here: a diagram can be
looked at before the spec that uses it is written."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from janus_core.sdk.errors import PluginError, Problem, SpecError, display_path
from janus_core.spec.diagram import Diagram
from janus_core.spec.model import DIAGRAM_FILE, SETUP_FILE, WalkOptions
from janus_core.spec.safe_load import check_diagram_text, read_text

if TYPE_CHECKING:
    from janus_core.plugins import Plugins

#: files a folder without setup.yaml is drawn from, in this order, before any other diagram file
PREFERRED = (DIAGRAM_FILE, "diagram.mmd", "schema.sql")


def load_drawable(target: str | Path, plugins: Plugins, dialect: str | None = None) -> tuple[Diagram, WalkOptions]:
    """The diagram at ``target`` and how to walk it: a spec's (setup.yaml's ``walk:``, roles
    unchecked), or a diagram file's (the default walk), read in ``dialect`` when one is named
    (``--sql-dialect``). Raises SpecError at file:line:col."""
    from janus_core.spec.loading import load_plugged_spec

    target = Path(target)
    setup = target if target.is_file() and target.suffix in (".yaml", ".yml") else target / SETUP_FILE
    if setup.is_file():
        spec = load_plugged_spec(setup, plugins, check_roles=False, dialect=dialect)
        return spec.diagram, spec.setup.walk
    return read_diagram_file(_diagram_file(target, plugins), plugins, dialect), WalkOptions()


def _diagram_file(target: Path, plugins: Plugins) -> Path:
    """The file itself, or the one diagram file of a folder without setup.yaml."""
    if target.is_file():
        return target
    suffixes = {s for r in plugins.registry.diagram_readers.values() for s in r.obj.suffixes}
    found = sorted(p for p in target.iterdir() if p.is_file() and p.suffix in suffixes)
    chosen = next((target / name for name in PREFERRED if (target / name).is_file()), None)
    if chosen is None and len(found) == 1:
        chosen = found[0]
    if chosen is None:
        shown = display_path(target)
        if found:
            raise SpecError(Problem(shown, 1, 1, f"several diagram files and no setup.yaml: "
                                    f"{', '.join(p.name for p in found)}", "give the file to draw itself"))
        raise SpecError(Problem(shown, 1, 1, "no setup.yaml and no diagram file in this folder",
                                f"add {DIAGRAM_FILE} or schema.sql, or give the diagram file itself "
                                f"(files ending in {', '.join(sorted(suffixes))})"))
    return chosen


def read_diagram_file(path: Path, plugins: Plugins, dialect: str | None = None) -> Diagram:
    """A diagram file read with the registered diagram readers (in ``dialect``, when named); SpecError
    at file:line:col."""
    shown = display_path(path)
    text = read_text(path, shown)
    check_diagram_text(text, shown)
    try:
        diagram = plugins.read_diagram(text, shown, dialect)
    except PluginError:
        raise SpecError(Problem(shown, 1, 1, "no diagram reader reads this file",
                                "a Mermaid diagram starts with 'erDiagram', SQL DDL with CREATE TABLE; other "
                                "formats need a diagram-reader plugin")) from None
    if not diagram.entities:
        raise SpecError(Problem(shown, 1, 1, "the diagram declares no entities",
                                "add at least one line such as 'CUSTOMER ||--o{ ORDER : places'"))
    return diagram
