"""Text from outside (servers' replies and errors, records, documents) made safe to show on a terminal.

A terminal obeys control characters: ESC starts sequences that clear the screen, move the cursor,
set the window title or draw a link (OSC 8) that says one thing and opens another; BEL rings, CR
writes over a line. ``printable`` shows every control character but newline and tab as an escape
(``\\x1b``), so what a server or a record says is printed, never obeyed.
"""

from __future__ import annotations

import re

#: C0 controls but tab, newline and the CR of a CRLF; DEL; the C1 controls (U+0080 to U+009F: CSI, OSC, ...)
CONTROL = re.compile(r"\r(?!\n)|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _escape(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def printable(text: str) -> str:
    """``text`` with CRLF as a newline and every other control character but newline and tab
    written as ``\\xNN`` (ESC as ``\\x1b``, BEL as ``\\x07``, a lone CR as ``\\x0d``)."""
    if not isinstance(text, str):
        text = str(text)
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    return CONTROL.sub(_escape, text)

