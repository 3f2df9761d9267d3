"""The ``language`` filter: every user and assistant message in one of the expected languages.

Detection is py3langid's (97 languages, offline, a few microseconds a message). Short messages
say too little to tell, so messages under ``min_words`` words are not checked, and code blocks
and inline code are left out of what is checked.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from pydantic import Field, field_validator

from janus_core.sdk.contracts import Ask, Filter

from .options import Options, StrList

_CODE = re.compile(r"```.*?(?:```|$)|`[^`\n]*`", re.S)


class LanguageOptions(Options):
    expected: StrList = Field(default_factory=lambda: ["en"],
                                description="ISO 639-1 codes of the languages the dataset is written in")
    min_words: int = Field(5, ge=1, description="messages shorter than this are not checked")
    min_confidence: float = Field(0.9, ge=0, le=1,
                                  description="how sure the detector must be before a message is eliminated")

    @field_validator("expected")
    @classmethod
    def _codes(cls, value: list[str]) -> list[str]:
        languages = set(_identifier().nb_classes)
        unknown = [code for code in value if code.lower() not in languages]
        if unknown:
            raise ValueError(f"unknown language code(s) {', '.join(unknown)}; use ISO 639-1 codes such as en, fr, de")
        return [code.lower() for code in value]


@cache
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect(text: str) -> tuple[str, float]:
    """(ISO 639-1 code, confidence 0..1) of ``text``, code left out."""
    code, confidence = _identifier().classify(_CODE.sub(" ", text))
    return code, float(confidence)


class Language(Filter):
    name = "language"
    description = "a user or assistant message in another language than the expected ones (py3langid)"
    default = False
    Options = LanguageOptions

    async def check(self, record, parent, ask: Ask) -> str | None:
        from janus_core.sdk.records import new_messages

        o = self.options
        for message in new_messages(record, parent):
            if message["role"] == "system" or len(_CODE.sub(" ", message["content"]).split()) < o.min_words:
                continue
            code, confidence = detect(message["content"])
            if code not in o.expected and confidence >= o.min_confidence:
                return (f"the {message['role']} message is in '{code}' ({confidence:.0%} sure), not "
                        f"{' or '.join(o.expected)}: {message['content'][:60]!r}")
        return None
