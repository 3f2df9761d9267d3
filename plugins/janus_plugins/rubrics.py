"""Rubrics: the one model and wording for grading 1 to 5, shared by the ``judge`` filter (one record
against each rubric) and the ``preference`` output type (several answers against one rubric)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from janus_core.sdk.errors import JanusError


class Rubric(BaseModel):
    """What is graded (``criteria``) and what each score from 1 to 5 means."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    criteria: str = Field(min_length=1)
    scores: dict[int, str]

    @field_validator("scores")
    @classmethod
    def _one_to_five(cls, value: dict[int, str]) -> dict[int, str]:
        if sorted(value) != [1, 2, 3, 4, 5]:
            raise ValueError(f"describe each score 1, 2, 3, 4 and 5 (got {sorted(value)})")
        return value

    def prompt(self) -> str:
        """The rubric as every grading prompt shows it."""
        scores = "\n".join(f"{n}: {self.scores[n]}" for n in sorted(self.scores))
        return f"Rubric: {self.criteria}\nScores:\n{scores}"


class RubricFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rubrics: list[Rubric] = Field(min_length=1)


def load_rubrics(path: Path) -> list[Rubric]:
    """Rubrics from a YAML file; JanusError names the file and the place of any problem."""
    from janus_core.sdk.errors import SpecError
    from janus_core.spec.safe_load import load_yaml, read_text

    try:
        data = load_yaml(read_text(path, str(path)), str(path))
    except SpecError as exc:
        raise JanusError(str(exc.problems[0])) from None
    try:
        return RubricFile.model_validate(data).rubrics
    except ValidationError as exc:
        first = exc.errors()[0]
        place = ".".join(str(p) for p in first["loc"])
        raise JanusError(f"{path}: {place}: {first['msg']} (a rubric needs name, criteria and scores 1-5)") from None
