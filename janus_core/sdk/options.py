"""One options system for every plugin kind: a pydantic model per backend or filter.

A plugin declares ``class Options(janus_core.Options)`` with one field per option; the field's
``description`` is its help text (``janus plugins``). Values come from setup.yaml
(``model.options``, ``filter_options.NAME``) or ``--option KEY=VALUE`` and are validated once, when
the plugin is built or configured; errors name the option and, for setup.yaml, its line and column.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from janus_core.sdk.errors import BackendError
from janus_core.sdk.reply_bounds import MAX_REPLY_BYTES
from janus_core.sdk.structured import STRUCTURED_HELP, check_structured


class Options(BaseModel):
    """Base class of a plugin's options: unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")
    #: fields that name files relative to the spec folder; the spec loader checks they exist
    path_fields: ClassVar[tuple[str, ...]] = ()


class NoOptions(Options):
    """The options of a plugin that takes none."""


#: The ``structured`` option of the backends that negotiate JSON output with an OpenAI-compatible
#: server (see ``janus_core.sdk.structured``).
Structured = Annotated[str, AfterValidator(check_structured), Field(description=STRUCTURED_HELP)]

#: The ``max_reply_bytes`` option of the HTTP provider backends (``janus_core.sdk.reply_bounds``).
MaxReplyBytes = Annotated[int, Field(gt=0, description=f"largest reply body taken, in bytes after decompression; "
                                     f"a larger one is abandoned and the request fails (default {MAX_REPLY_BYTES}, "
                                     "8 MiB)")]
#: The help of the HTTP provider backends' ``timeout`` option.
TIMEOUT_HELP = "seconds before a request is abandoned: the whole request, reading the reply included"


def option_help(model: type[Options] | None) -> dict[str, str]:
    """Each option's name and help text (its field description, with the default as setup.yaml writes it)."""
    if model is None:
        return {}
    shown = {}
    for name, info in model.model_fields.items():
        text = info.description or ""
        if info.is_required():
            text += " (required)"
        elif "default" not in text:
            text += f" (default {default_text(info.get_default(call_default_factory=True))})"
        shown[name] = text.strip()
    return shown


def default_text(value: Any) -> str:
    """An option's default as a user writes it: none, true, a, b, 2: 0.2."""
    if value is None or value in ("", (), [], {}, set(), frozenset()):
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return ", ".join(f"{k}: {default_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(default_text(v) for v in (sorted(value) if isinstance(value, set | frozenset) else value))
    return str(value)


class OptionsError(BackendError):
    """Options that do not validate: ``errors`` holds ``(location, message)`` for each problem,
    the location starting with the option's name."""

    def __init__(self, owner: str, errors: list[tuple[tuple[Any, ...], str]], known: list[str]):
        self.owner, self.errors, self.known = owner, errors, known
        first = "; ".join(f"{'.'.join(map(str, loc)) or 'options'}: {message}" for loc, message in errors)
        super().__init__(f"{owner}: {first} (options: {', '.join(known) or 'none'})")


def validate_options(model: type[Options], given: dict[str, Any], owner: str) -> Options:
    """``given`` as an instance of ``model``; OptionsError naming every bad or unknown option."""
    try:
        return model.model_validate(given)
    except ValidationError as exc:
        errors = [(tuple(err["loc"]), "unknown option" if err["type"] == "extra_forbidden"
                   else err["msg"].removeprefix("Value error, ")) for err in exc.errors()]
        raise OptionsError(owner, errors, list(model.model_fields)) from None
