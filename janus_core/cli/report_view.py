"""``janus stats`` in the terminal: the report's Markdown rendered by rich, and its sample records as
panels whose text is shown literally (never read as markup or Markdown)."""

from __future__ import annotations

from typing import Any

from janus_core.sdk.terminal import printable


def show_report(report: dict[str, Any]) -> None:
    """Print the report on stdout: headings, tables and lists drawn, then three sample records."""
    from rich.console import Console, Group
    from rich.markdown import Markdown
    from rich.panel import Panel
    from rich.text import Text

    from janus_core.data.report import markdown

    console = Console(highlight=False)
    if not console.is_terminal:  # a file or a pipe: wide enough that lines are not wrapped mid-sentence
        console.width = 120
    console.print(Markdown(markdown(report, {}, samples=False)))
    if not report.get("samples"):
        return
    console.print(Text("Sample records", style="bold underline"))
    for sample in report["samples"]:
        body = [Text.assemble((f"{m['role']}: ", "bold cyan" if m["role"] == "user" else "bold green"),
                              printable(m["content"])) for m in sample["messages"]]
        title = Text(printable(f"{sample['id']} ({sample['direction']}, depth {sample['depth']})"))
        console.print(Panel(Group(*body), title=title, title_align="left"))
