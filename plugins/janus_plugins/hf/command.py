"""``janus push``: the click command of the hf plugin."""

from __future__ import annotations

from typing import Any

import click

from janus_core.cli import echo, get_plugins, load_checked_spec, reports_errors, split_options


def _check_repo_id(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    from janus_plugins.hf.hub import is_repo_id

    if not is_repo_id(value):
        raise click.BadParameter(f"{value!r}: write the dataset id as owner/name")
    return value


@click.command()
@click.argument("out", type=click.Path(exists=True, dir_okay=False))
@click.argument("repo_id", metavar="REPO_ID", callback=_check_repo_id)
@click.option("--format", "fmt", default="messages", show_default=True,
              help="Row format: messages (OpenAI/TRL), janus (whole records with provenance), sharegpt, alpaca, "
              "janus-legacy or dpo. Appending to a dataset needs the format it already holds.")
@click.option("--split", default="train", show_default=True,
              help="The split the rows go to (letters, digits and '_').")
@split_options
@click.option("--replace", is_flag=True, help="Replace the dataset's data instead of appending to it: the old data "
              "files are deleted in the same commit. Needed when the dataset holds another format.")
@click.option("--public", is_flag=True, help="Create the repository public; by default a new one is private. An "
              "existing repository keeps its visibility.")
@click.option("--spec", "spec_path", type=click.Path(exists=True, file_okay=True, dir_okay=True),
              help="The spec folder to describe in the card and upload under spec/ (default: the one OUT's "
              "journal recorded when it was generated).")
@click.pass_context
@reports_errors
def push(ctx: click.Context, out: str, repo_id: str, fmt: str, split: str, eval_fraction: float, seed: int,
         replace: bool, public: bool, spec_path: str | None) -> None:
    """Upload a dataset to the Hugging Face Hub as Parquet, with a dataset card and its spec.

    The token comes from the HF_TOKEN environment variable, never from the command line. A new
    repository is private unless --public. Pushing again appends only the rows the dataset does not
    hold yet (and uploads nothing when it holds them all); --replace replaces its data. The card
    holds the spec, the run's configuration, its report and what each provenance field means.
    """
    from pathlib import Path

    from janus_core.data.export import export_remote
    from janus_plugins.hf.hub import hub_token

    hub_token(required=True)
    plugins = get_plugins(ctx)
    sink_cls = plugins.registry.get("sinks", "hf-hub")
    options: dict[str, Any] = {"split": split, "replace": replace, "public": public, "flag": "--replace"}
    if spec_path:
        from janus_core.spec.model import spec_files

        loaded, _plugins, _notes = load_checked_spec(ctx, spec_path)
        options["spec"] = {"name": loaded.name, "folder": str(loaded.folder), "files": spec_files(loaded)}
    counts = export_remote(Path(out), repo_id, sink_cls, fmt, eval_fraction, seed, options)
    for line in counts["all"]["report"]:
        echo(line)
