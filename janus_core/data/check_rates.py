"""Pass rates per named check, and tool usage, for any output type that records its checks.

An output type that checks its records writes ``meta["checks"]`` (rule name -> passed) on every
record it makes, kept or eliminated (the failure ledger keeps an eliminated record's meta); a
tool-use record also writes ``meta["tool_use"]["usage"]`` (tool -> calls, errors). ``janus stats``
reports both over the kept and the eliminated records together.
"""

from __future__ import annotations

from typing import Any


class CheckRates:
    """Counts of records checked and passed per rule, and calls and errors per tool."""

    def __init__(self) -> None:
        self.checked: dict[str, int] = {}
        self.passed: dict[str, int] = {}
        self.tools: dict[str, dict[str, int]] = {}

    def add(self, meta: Any) -> None:
        """One record's (or eliminated job's) meta."""
        if not isinstance(meta, dict):
            return
        checks = meta.get("checks")
        if isinstance(checks, dict):
            for rule, passed in checks.items():
                if isinstance(passed, bool):
                    self.checked[rule] = self.checked.get(rule, 0) + 1
                    self.passed[rule] = self.passed.get(rule, 0) + passed
        usage = (meta.get("tool_use") or {}).get("usage") if isinstance(meta.get("tool_use"), dict) else None
        if isinstance(usage, dict):
            for name, counts in usage.items():
                if isinstance(counts, dict):
                    entry = self.tools.setdefault(str(name), {"calls": 0, "errors": 0})
                    for key in entry:
                        value = counts.get(key)
                        entry[key] += value if isinstance(value, int) and not isinstance(value, bool) else 0

    def rates(self) -> dict[str, dict[str, Any]]:
        return {rule: {"checked": n, "passed": self.passed[rule], "rate": round(self.passed[rule] / n, 4)}
                for rule, n in self.checked.items()}

    def usage(self) -> dict[str, dict[str, int]]:
        return dict(sorted(self.tools.items(), key=lambda item: (-item[1]["calls"], item[0])))


def markdown(rates: dict[str, dict[str, Any]], usage: dict[str, dict[str, int]]) -> list[str]:
    """The report's sections on checks and tool usage (none when the records have neither)."""
    lines: list[str] = []
    if rates:
        lines += ["## Checks", "", "Kept and eliminated records together.", "",
                  "| Check | Passed | Checked | Rate |", "|---|---:|---:|---:|",
                  *(f"| `{rule}` | {r['passed']} | {r['checked']} | {r['rate']:.1%} |"
                    for rule, r in rates.items()), ""]
    if usage:
        lines += ["## Tool usage", "", "| Tool | Calls | Error results |", "|---|---:|---:|",
                  *(f"| `{name}` | {u['calls']} | {u['errors']} |" for name, u in usage.items()), ""]
    return lines
