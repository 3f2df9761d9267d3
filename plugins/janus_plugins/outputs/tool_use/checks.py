"""The checks a tool-use dialogue must pass, each a named elimination rule, in this order:

- ``tool-call-valid``: every call names an offered tool, with arguments that are a JSON object valid
  against that tool's JSON Schema (what the session answered ``unknown_tool``/``invalid_arguments``);
- ``tool-call-executed``: every valid call ran and returned a result, not an error (no such row, a
  refused write, a broken key, a timeout, a result too large);
- ``final-state``: the conversation's world hash equals the one the gold calls leave;
- ``facts-told``: each value the user needed appears in the assistant's answers (normalised: case,
  punctuation and spacing ignored; a date may be written out, "March 5, 2024"; a number as 12 or 12.0);
- ``goal-judge`` (when the run's ``judge`` filter is on): the judge agrees the dialogue reaches the goal.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from janus_core.sdk.contracts import Message

RULES = ("tool-call-valid", "tool-call-executed", "final-state", "facts-told", "goal-judge")
INVALID = frozenset({"unknown_tool", "invalid_arguments"})


def error_type(result: str) -> str | None:
    """The ``error.type`` of a tool's result text, or None for a result that is no error."""
    try:
        data = json.loads(result)
    except ValueError:
        return None
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        return str(data["error"].get("type") or "error")
    return None


def normalise(text: str) -> str:
    """Lower case, every run of characters that are no letters or digits one space, padded by spaces."""
    return " " + " ".join(re.findall(r"[^\W_]+", str(text).lower())) + " "


def _number_forms(value: float) -> list[str]:
    forms = [repr(value), f"{value:.2f}", f"{value:,.2f}"]
    if float(value).is_integer():
        forms += [str(int(value)), f"{int(value):,}"]
    return forms


def _date_forms(day: dt.date) -> list[str]:
    month, short = day.strftime("%B"), day.strftime("%b")
    return [day.isoformat(), f"{month} {day.day} {day.year}", f"{day.day} {month} {day.year}",
            f"{short} {day.day} {day.year}", f"{day.day} {short} {day.year}", day.strftime("%d/%m/%Y"),
            day.strftime("%m/%d/%Y"), f"{month} {day.day}", f"{day.day} {month}"]


def _time_forms(moment: dt.time) -> list[str]:
    hour12 = moment.hour % 12 or 12
    half = "am" if moment.hour < 12 else "pm"
    forms = [moment.strftime("%H:%M"), f"{moment.hour}:{moment.minute:02d}", f"{hour12}:{moment.minute:02d} {half}",
             f"{hour12}:{moment.minute:02d}{half}"]
    return forms + ([f"{hour12} {half}", f"{hour12}{half}"] if not moment.minute else [])


def fact_forms(value: Any) -> list[list[str]]:
    """The ways a value may be written: a list of parts (a date and a time), each with its forms."""
    if isinstance(value, bool):
        return [["yes", "true"] if value else ["no", "false"]]
    if isinstance(value, int | float):
        return [_number_forms(value)]
    text = str(value)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is not None and re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return [_date_forms(moment.date())]
    if moment is not None and re.fullmatch(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?", text):
        return [_date_forms(moment.date()), _time_forms(moment.time())]
    if re.fullmatch(r"\d{2}:\d{2}", text):
        return [_time_forms(dt.time.fromisoformat(text))]
    return [[text]]


def told(value: Any, said: str) -> bool:
    """Whether ``said`` (already ``normalise``d) holds ``value`` in one of its forms."""
    return all(any(normalise(form) in said for form in forms) for forms in fact_forms(value))


def answers(messages: list[Message]) -> str:
    """The assistant's words to the user (its text, not its calls), normalised."""
    return normalise("\n".join(str(m.get("content") or "") for m in messages if m.get("role") == "assistant"))


def run_checks(calls: list[dict[str, Any]], state_hash: str, task: dict[str, Any],
               messages: list[Message]) -> dict[str, str | None]:
    """Each rule but the judge's: None when it passed, else why it failed."""
    invalid = [c for c in calls if c["error"] in INVALID]
    failed = [c for c in calls if c["error"] and c["error"] not in INVALID]
    said = answers(messages)
    missing = [f for f in task["facts"] if not told(f["value"], said)]
    return {
        "tool-call-valid": (f"{len(invalid)} of {len(calls)} calls invalid, first {invalid[0]['name']!r}: "
                            f"{invalid[0]['message']}") if invalid else None,
        "tool-call-executed": (f"{len(failed)} of {len(calls)} calls failed, first {failed[0]['name']!r} "
                               f"({failed[0]['error']}): {failed[0]['message']}") if failed else None,
        "final-state": None if state_hash == task["state_hash"] else (
            "the world does not end as the planned calls leave it" + (
                " (no call that writes was made)" if task.get("writes") and not any(c["writes"] for c in calls)
                else "")),
        "facts-told": "the assistant never answered in words" if not said.strip() else (
            f"{len(missing)} of {len(task['facts'])} facts not told, first the {missing[0]['fact']} "
            f"({missing[0]['value']!r})") if missing else None,
    }


JUDGE_SCHEMA = {"type": "object", "additionalProperties": False, "required": ["reached", "reason"],
                "properties": {"reached": {"type": "boolean"}, "reason": {"type": "string", "maxLength": 400}}}


def judge_prompt(goal: str, messages: list[Message], user_role: str, assistant_role: str) -> str:
    """What the judge is asked: does this dialogue (calls and results shown) reach the user's goal?"""
    lines = []
    for m in messages:
        if m["role"] == "user":
            lines.append(f"{user_role}: {m['content']}")
        elif m["role"] == "assistant":
            for call in m.get("tool_calls") or []:
                lines.append(f"[{assistant_role} calls {call['function']['name']}({call['function']['arguments']})]")
            if m.get("content"):
                lines.append(f"{assistant_role}: {m['content']}")
        elif m["role"] == "tool":
            lines.append(f"[result: {str(m['content'])[:400]}]")
    return (f"The {user_role} wanted this: {goal}\n\nHere is the conversation with the {assistant_role}, who can "
            "call tools on the records (calls and results in brackets):\n" + "\n".join(lines) + "\n\n"
            "Did the conversation reach the goal: the right records changed as asked, and the user told what "
            "they wanted to know, truthfully, from the results? Answer with JSON only: "
            '{"reached": true or false, "reason": "one sentence"}.')


def judged(reply: Any) -> tuple[bool, str]:
    """(reached, reason) from the judge's decoded reply; an unreadable reply is a failure saying so."""
    if isinstance(reply, dict) and isinstance(reply.get("reached"), bool):
        return reply["reached"], str(reply.get("reason") or "")[:400]
    return False, "the judge's reply was not readable as {\"reached\": ..., \"reason\": ...}"
