"""The ``judge`` filter: the model grades each record 1 to 5 against rubrics, with written feedback.

One request per rubric (absolute grading: the criteria and a description of every score), the
scores averaged. Every judged record keeps its grades in ``meta.judge``; with ``min_score`` set, a
record whose average is below it is eliminated. Rubrics come from a YAML file (see
``rubrics.yaml`` beside this module, the defaults: faithfulness to the diagram, role fidelity,
helpfulness and safety).
"""

from __future__ import annotations

import json
import re
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from janus_core.sdk.contracts import Ask, Filter
from janus_plugins.rubrics import Rubric, RubricFile, load_rubrics

from .options import Options

__all__ = ["DEFAULT_RUBRICS", "Judge", "JudgeOptions", "Rubric", "RubricFile", "load_rubrics", "parse_judgement"]

DEFAULT_RUBRICS = Path(__file__).with_name("rubrics.yaml")

REPLY_SCHEMA = {"type": "object", "additionalProperties": False, "required": ["feedback", "score"],
                "properties": {"feedback": {"type": "string", "maxLength": 600},
                               "score": {"type": "integer", "minimum": 1, "maximum": 5}}}


class JudgeOptions(Options):
    min_score: float = Field(0, ge=0, le=5, description="eliminate records whose average score is below this")
    rubrics: str | None = Field(None, description="a YAML file of rubrics, relative to the spec (default: built-in)")
    path_fields: ClassVar[tuple[str, ...]] = ("rubrics",)


# --- reading a grade out of a reply -------------------------------------------------------------

_SCORE_KEYS = ("score", "rating", "result", "grade")
_FEEDBACK_KEYS = ("feedback", "reasoning", "rationale", "explanation", "comment")
_PATTERNS = [
    re.compile(r"\[RESULT\]\s*\(?([1-5])\b", re.I),
    re.compile(r"\b(?:score|rating|grade|result)\b\W{0,3}(?:is\W{0,3})?\(?([1-5])(?:\s*(?:/|out of)\s*5)?\b", re.I),
    re.compile(r"\b([1-5])\s*(?:/|out of)\s*5\b", re.I),
]


def _score(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and 1 <= value <= 5:
        return int(value) if float(value).is_integer() else float(value)
    if isinstance(value, str):
        found = re.fullmatch(r"\s*([1-5](?:\.\d+)?)\s*(?:(?:/|out of)\s*5)?\s*\.?", value)
        return _score(float(found.group(1))) if found else None
    return None


def parse_judgement(reply: Any) -> tuple[float, str]:
    """(score 1..5, feedback) from a judge's reply: JSON (any common key names, in code fences or
    amid text), or prose such as "Feedback: ... [RESULT] 4", "Score: 4/5", "I'd rate it 3 out of 5".
    ValueError if no score from 1 to 5 can be found."""
    if isinstance(reply, str):
        text = reply.strip()
        for candidate in [text, *re.findall(r"\{.*?\}", text, re.S)]:
            try:
                data = json.loads(candidate)
            except json.JSONDecodeError:
                continue
            if isinstance(data, dict):
                try:
                    return parse_judgement(data)
                except ValueError:
                    pass
        # the last score the text names is the verdict ("3 ... on reflection, 4")
        found = [(m.start(), int(m.group(1))) for p in _PATTERNS for m in p.finditer(text)]
        if not found:
            bare = re.fullmatch(r"\s*([1-5])\s*\.?\s*", text)
            if bare:
                return int(bare.group(1)), ""
            raise ValueError(f"no score from 1 to 5 in the reply: {text[:80]!r}")
        position, score = max(found)
        feedback = re.sub(r"^\s*(feedback|reasoning)\s*:\s*", "", text[:position], flags=re.I).strip()
        feedback = re.sub(r"[\s\[(]*(score|rating|result|grade)?\s*[:\-]?\s*$", "", feedback, flags=re.I).strip()
        return score, feedback or text
    if isinstance(reply, dict):
        lowered = {str(k).lower(): v for k, v in reply.items()}
        for key in _SCORE_KEYS:
            score = _score(lowered.get(key))
            if score is not None:
                feedback = next((str(lowered[k]) for k in _FEEDBACK_KEYS if lowered.get(k)), "")
                return score, feedback
        for value in lowered.values():  # {"judgement": {"score": 4, ...}}
            if isinstance(value, dict):
                return parse_judgement(value)
        raise ValueError(f"no score from 1 to 5 in the reply: {json.dumps(reply)[:80]}")
    score = _score(reply)
    if score is None:
        raise ValueError(f"no score from 1 to 5 in the reply: {reply!r}")
    return score, ""


# --- the filter ---------------------------------------------------------------------------------

PROMPT = """\
You are a strict, fair grader of training data for an AI assistant. Grade the conversation below
against one rubric, on an absolute scale from 1 to 5.

The assistant plays the {assistant_role}; the user plays the {user_role}.
The situation (from an entity-relationship diagram):
{situation}

The conversation:
{transcript}

{rubric}

Write short feedback that explains the grade with reference to the rubric, then give the score.
Answer with JSON only: {{"feedback": "...", "score": N}}"""


class Judge(Filter):
    name = "judge"
    description = "rubric-based grading 1 to 5 by the model (one request per rubric); min_score eliminates"
    default = False
    Options = JudgeOptions

    def __init__(self) -> None:
        self.rubrics: list[Rubric] = []
        self.spec: Any = None

    def configure(self, spec: Any, options: Any = None) -> None:
        super().configure(spec, options)
        self.spec = spec
        self.__dict__.pop("graph", None)
        path = DEFAULT_RUBRICS
        if self.options.rubrics:
            path = Path(spec.folder if spec is not None else ".") / Path(self.options.rubrics).expanduser()
        self.rubrics = load_rubrics(path)

    @cached_property
    def graph(self) -> Any:
        from janus_core.plan.graph import build_graph

        return build_graph(self.spec.diagram)

    def situation(self, record: Any) -> str:
        """The record's walk in plain words, the same facts the scenario-consistency check uses."""
        from .scenario import situation

        return situation(self.spec, self.graph, record.walk)

    def prompt(self, record: Any, rubric: Rubric) -> str:
        from janus_core.spec.templates import transcript

        setup = self.spec.setup
        shown = [m for m in record.messages if m["role"] != "system"]
        return PROMPT.format(assistant_role=setup.assistant_role, user_role=setup.user_role,
                             situation=self.situation(record),
                             transcript=transcript(shown, setup.user_role, setup.assistant_role),
                             rubric=rubric.prompt())

    async def check(self, record, parent, ask: Ask) -> str | None:
        if self.spec is None or not self.rubrics:
            return None
        grades: dict[str, dict[str, Any]] = {}
        for rubric in self.rubrics:
            reply = await ask([{"role": "user", "content": self.prompt(record, rubric)}], REPLY_SCHEMA, raw=True)
            try:
                score, feedback = parse_judgement(reply)
            except ValueError as exc:
                grades[rubric.name] = {"score": None, "feedback": str(exc)}
                continue
            grades[rubric.name] = {"score": score, "feedback": feedback[:1000]}
        scored = [g["score"] for g in grades.values() if g["score"] is not None]
        mean = sum(scored) / len(scored) if scored else None
        record.meta["judge"] = {"score": None if mean is None else round(mean, 3), "rubrics": grades}
        if self.options.min_score > 0:
            if mean is None:
                return "the judge gave no usable score"
            if mean < self.options.min_score:
                low = min((g for g in grades.items() if g[1]["score"] is not None), key=lambda g: g[1]["score"])
                return (f"judge score {round(mean, 3):g} is below {self.options.min_score:g} (lowest: {low[0]} "
                        f"{low[1]['score']}: {low[1]['feedback'][:100]})")
        return None
