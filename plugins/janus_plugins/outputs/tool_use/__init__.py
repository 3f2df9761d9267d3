"""Output type 'tool-use': dialogues in which the assistant acts on the diagram's world with tools.

``prepare`` builds the run's world (``janus_plugins.world.run_world``) and its tools once. Each job
draws a task from its walk (``planner.plan_task``: the user's goal, the gold calls, the expected
final state and the facts to be told). The job's request writes the user's opening message from
that task; ``finish`` runs the dialogue (``dialogue.converse``: a simulated user, the assistant with
the tools, every call run on a private copy of the world) and the checks (``checks``). The record
keeps the messages with their ``tool_calls`` and ``tool`` turns, ``tools`` (the definitions
offered), and in ``meta``: ``tool_use`` (the task, every call, the tool usage) and ``checks`` (rule ->
passed). A dialogue that fails a check is eliminated under that check's name
(``eliminated:final-state``...), its meta kept in the failure ledger.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from janus_core.sdk.contracts import Limits, Message, NoRecord, OutputType
from janus_core.sdk.records import Record

#: what the assistant's system message says about the tools (after the spec's system_prompt)
TOOL_GUIDANCE = ("Use the tools to look up and change the records; never guess a value or an id you can look up. "
                 "Tell the user the values they asked for, as the results give them.")
OPENING = "You are a helpful assistant."


class ToolUse(OutputType):
    name = "tool-use"
    description = "a user with a goal, an assistant calling tools on the diagram's world; every call run and checked"
    derives = False

    def __init__(self) -> None:
        self.world: Any = None
        self.judging = False
        self.calls_per_turn = 6
        self.user_turns = 3
        self.roles = ("user", "assistant")

    # --- the plan ------------------------------------------------------------------------------

    def prepare(self, spec: Any, seed: int) -> None:
        from janus_core.plugins import load_plugins
        from janus_plugins.world import run_world, tools_for

        from .planner import World

        setup = spec.setup
        options = setup.tools
        rows = options.rows if options is not None else 20
        path = run_world(spec, seed, rows)
        extra = [r.obj for r in load_plugins().registry.tools.values()]
        if self.world is not None:
            self.world.close()
        self.world = World(Path(path), tools_for(path, extra=extra, spec=spec))
        self.calls_per_turn = options.calls_per_turn if options is not None else 6
        self.user_turns = setup.limits.turns or Limits().turns
        self.roles = (setup.user_role, setup.assistant_role)
        # the goal judge asks when the run's judge filter is on (named in filters: or filter_options:)
        self.judging = "judge" in (setup.filters or []) or "judge" in setup.filter_options

    def sample_for(self, context: Any, rng: random.Random, parent_meta: dict[str, Any] | None) -> dict[str, Any]:
        from .planner import plan_task

        if self.world is None:
            raise RuntimeError("tool-use: prepare() was not called before the plan drew a task")
        task = plan_task(self.world, list(context.entities), rng)
        system = f"{OPENING}\n{TOOL_GUIDANCE}"
        if task is None:
            return {"system": system, "opening": OPENING, "meta": {"tool_use": {"task": None}}}
        user_role = self.roles[0]
        brief = (f"The {user_role}'s task, which the opening message asks for in the {user_role}'s own words "
                 f"(the assistant can look up and change the records): {task.goal}\n"
                 f"What the {user_role} knows: {'; '.join(task.known)}.\n"
                 f"Write only the {user_role}'s opening message, not the assistant's reply.")
        return {"system": system, "opening": OPENING, "brief": brief,
                "meta": {"tool_use": {"task": task.to_meta()}}}

    # --- the first request: the user's opening message -----------------------------------------

    def schema(self, limits: Limits) -> dict[str, Any]:
        return {"type": "object", "additionalProperties": False, "required": ["user"],
                "properties": {"user": {"type": "string", "minLength": 1, "maxLength": limits.message_chars}}}

    def output_format(self, limits: Limits, derive: bool) -> str:
        return (f"Write the opening message the user sends to the assistant, at most {limits.message_chars} "
                'characters. Answer with JSON only, in the form {"user": "..."}.')

    def parse(self, data: Any) -> list[Message]:
        text = data.get("user") if isinstance(data, dict) else data if isinstance(data, str) else None
        if not isinstance(text, str) or not text.strip():
            raise ValueError('user: the opening message is missing (expected {"user": "..."})')
        return [{"role": "user", "content": text.strip()}]

    # --- the dialogue and its checks -----------------------------------------------------------

    async def finish(self, record: Record, ask: Any, rng: random.Random) -> Record:
        from janus_plugins.world.session import ToolSession

        from .checks import JUDGE_SCHEMA, RULES, judge_prompt, judged, run_checks
        from .dialogue import converse

        meta = dict(record.meta.get("tool_use") or {})
        task = meta.get("task")
        if not task:
            raise NoRecord("the walk's entities allow no task whose gold calls all succeed on the world",
                           rule="tool-task")
        names = set(task.get("tools") or [t.name for t in self.world.tools])
        with ToolSession(self.world.path, [t for t in self.world.tools if t.name in names]) as session:
            record.tools = session.definitions()
            dialogue = await converse(
                ask, session, list(record.messages), goal=task["goal"], known=task["known"],
                user_role=self.roles[0], assistant_role=self.roles[1], user_turns=self.user_turns,
                calls_per_turn=self.calls_per_turn,
                temperatures={"assistant": self.reply_temperature, "user": 0.7}, rng=rng)
            state = session.state_hash()
        record.messages = dialogue.messages
        failed = run_checks(dialogue.calls, state, task, dialogue.messages)
        if self.judging:
            reply = await ask([{"role": "user", "content": judge_prompt(task["goal"], dialogue.messages, *self.roles)}],
                              JUDGE_SCHEMA, role="judge")
            reached, reason = judged(reply)
            failed["goal-judge"] = None if reached else (reason or "the judge found the goal not reached")
            meta["judge"] = {"reached": reached, "reason": reason}
        usage: dict[str, dict[str, int]] = {}
        for call in dialogue.calls:
            entry = usage.setdefault(call["name"], {"calls": 0, "errors": 0})
            entry["calls"] += 1
            entry["errors"] += bool(call["error"])
        meta.update(calls=dialogue.calls, usage=usage, user_turns=dialogue.user_turns, done=dialogue.done,
                    dropped_calls=dialogue.dropped, state_hash=state,
                    failed={rule: why for rule, why in failed.items() if why})
        record.meta = {**record.meta, "tool_use": meta, "checks": {rule: failed[rule] is None for rule in RULES
                                                                   if rule in failed}}
        first = next((rule for rule in RULES if failed.get(rule)), None)
        if first is not None:
            raise NoRecord(str(failed[first]), rule=first)
        return record

