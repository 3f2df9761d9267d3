"""The ``control-characters`` filter: a record whose text holds terminal control characters.

A model or a server that sends ESC, BEL or other control characters in a reply would put them into
the dataset, where they reach every terminal that prints a record (``cat``, ``jq``, a trainer's log)
and every model trained on it. Tab, newline and CRLF line ends are text; any other C0 control, DEL
or C1 control (a lone CR, which writes over a line, included) eliminates the record.
"""

from __future__ import annotations

from janus_core.sdk.contracts import Ask, Filter
from janus_core.sdk.terminal import CONTROL, printable


class ControlCharacters(Filter):
    name = "control-characters"
    description = ("a message holding control characters other than tab and newline (ESC, BEL, a lone CR, DEL, "
                   "C1 controls), which would reach the terminals that print the dataset")

    async def check(self, record, parent, ask: Ask) -> str | None:
        for message in record.messages:
            for field in ("role", "content"):
                text = message.get(field)
                if not isinstance(text, str):
                    continue
                found = CONTROL.search(text)
                if found:
                    where = f"{message.get('role')!r} message" if field == "content" else "message role"
                    return (f"a {printable(where)} holds the control character {printable(found.group())} "
                            f"(character {found.start() + 1})")
        return None
