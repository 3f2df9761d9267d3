"""The docs site builds with `mkdocs build --strict`, and its reference pages are written from the code."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed: pip install -e '.[docs]' to build the docs site")
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"),
               "--site-dir", str(out)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def page(site: Path, name: str) -> str:
    return (site / name / "index.html").read_text(encoding="utf-8")


def test_the_site_builds_strict_with_every_page(site: Path) -> None:
    assert (site / "index.html").is_file()
    for name in ("getting-started", "tutorial", "troubleshooting", "security", "how-to/providers",
                 "how-to/quality", "how-to/exports", "how-to/scaling", "how-to/review", "plugins",
                 "reference/cli", "reference/setup-yaml", "reference/hooks", "reference/builtins"):
        assert (site / name / "index.html").is_file(), name


def test_setup_yaml_reference_lists_every_field_of_the_model(site: Path) -> None:
    from janus_core.spec.model import ChunkingOptions, LimitOptions, ModelOptions, Setup, WalkOptions

    text = page(site, "reference/setup-yaml")
    for model in (Setup, ModelOptions, WalkOptions, LimitOptions, ChunkingOptions):
        for name in model.model_fields:
            assert f"<code>{name}</code>" in text, f"{model.__name__}.{name}"


def test_hooks_reference_lists_every_hookspec(site: Path) -> None:
    from janus_core.sdk import hookspecs

    text = page(site, "reference/hooks")
    names = [n for n, f in vars(hookspecs).items() if getattr(f, "janus_spec", None) is not None]
    assert len(names) >= 9
    for name in names:
        assert f'id="{name}"' in text, name


def test_cli_reference_has_core_and_plugin_commands(site: Path) -> None:
    text = page(site, "reference/cli")
    # push comes from the hf plugin and --min-score from the filters plugin: the group adds them lazily
    for word in ("janus generate", "janus validate", "janus export", "janus push", "janus review", "--min-score"):
        assert word in text, word
    assert "Sentinel" not in text  # click's "no default" marker is shown as none
