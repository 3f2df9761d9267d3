"""``janus review``: the click command of the review plugin."""

from __future__ import annotations

from typing import Any

import click

from janus_core.cli import echo, reports_errors
from janus_plugins.review.access import MAX_REQUEST_BYTES


@click.command()
@click.argument("out", type=click.Path(exists=True, dir_okay=False))
@click.option("--port", type=click.IntRange(0, 65535), default=7860, show_default=True,
              help="Port on 127.0.0.1 to serve the page on (0: any free port). The page is only reachable "
              "from this machine.")
@click.option("--open", "open_browser", is_flag=True, help="Also open the page in the default web browser.")
@click.option("--max-request-bytes", type=click.IntRange(1), default=MAX_REQUEST_BYTES, show_default=True,
              help="The largest request body the page accepts (an edit included); a larger one is answered 413.")
@reports_errors
def review(out: str, port: int, open_browser: bool, max_request_bytes: int) -> None:
    """Review a dataset in the browser: keep, discard or edit records one at a time.

    Shows each record as a chat with its provenance (seed, walk, direction, depth, judge scores),
    with filters and keyboard shortcuts (k keep, d discard, e edit, j/arrows move, g or / jump,
    ? help). Every decision is saved at once in the run's journal (a plain JSONL file gets a journal
    beside it); 'janus export OUT --reviewed' then writes the kept and edited records. The page's
    address holds a token made for this run, as Jupyter's does: only who has the address can read
    or edit. Needs the 'review' extra: pip install 'janus-data[review]'.
    """
    from pathlib import Path

    from janus_plugins.review.app import serve

    def announce(url: str, data: Any) -> None:
        echo(f"reviewing {len(data.records)} records of {out} at {url} (Ctrl-C to stop; decisions are "
             "saved as you make them)", err=True)
        if open_browser:
            import webbrowser

            webbrowser.open(url)

    serve(Path(out), port, announce, max_request_bytes)
