"""What plugins implement and exchange: requests, completions, directions, output types, sinks.

Kept free of heavy imports so that loading plugins stays fast.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from janus_core.sdk.errors import BackendError
    from janus_core.sdk.options import Options as PluginOptions
    from janus_core.sdk.rate_headers import RateHeaders
    from janus_core.sdk.records import Record

#: One chat message in OpenAI's form: ``role`` and ``content``; an assistant message may also hold
#: ``tool_calls`` (``ToolCall.to_dict`` each) and ``reasoning``, a ``tool`` message ``tool_call_id``.
Message = dict[str, Any]


@dataclass
class CompletionRequest:
    """One call to a backend: chat messages and, where the output type has one, a JSON schema.

    ``tools`` are OpenAI function definitions (``{"type": "function", "function": {"name",
    "description", "parameters"}}``) the model may call; ``tool_choice`` is "auto" (the default
    when tools are given), "required", "none" or a tool's name. A request with tools has no schema."""

    messages: list[Message]
    schema: dict[str, Any] | None = None
    schema_name: str = "reply"
    max_tokens: int | None = None
    temperature: float = 0.8
    seed: int | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | None = None


@dataclass(frozen=True)
class ToolCall:
    """One call of a tool a model asked for: its id, the tool's name and the arguments as JSON text
    (exactly as OpenAI's API gives them; they may not parse, which the caller checks)."""

    id: str
    name: str
    arguments: str

    def to_dict(self) -> dict[str, Any]:
        """The call as an entry of an OpenAI assistant message's ``tool_calls``."""
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ToolCall:
        """A ``tool_calls`` entry in OpenAI's form (as ``to_dict`` writes it)."""
        function = data.get("function") or {}
        return cls(id=str(data.get("id") or ""), name=str(function.get("name") or ""),
                   arguments=str(function.get("arguments") or ""))


@dataclass
class Completion:
    """A backend's answer: the text, what is known of its cost, and the rate limits its headers stated
    (``parse_rate_headers``), which the engine paces by."""

    text: str
    model: str
    finish_reason: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    rate_limits: RateHeaders | None = None
    #: the tools the model called (a request with ``tools``), in the order it gave them
    tool_calls: list[ToolCall] = field(default_factory=list)
    #: the reasoning the model returned beside its answer (``reasoning_content``, ``thinking``,
    #: ``<think>``...), whatever the provider called it; None when it returned none
    reasoning: str | None = None


def assistant_message(completion: Completion) -> Message:
    """The assistant message a completion makes: its text as ``content`` (possibly ""), its
    ``tool_calls`` and ``reasoning`` where it has them."""
    message: Message = {"role": "assistant", "content": completion.text}
    if completion.tool_calls:
        message["tool_calls"] = [call.to_dict() for call in completion.tool_calls]
    if completion.reasoning:
        message["reasoning"] = completion.reasoning
    return message


def tool_message(call_id: str, content: str) -> Message:
    """The message that hands a tool's result (text, often JSON) back to the model."""
    return {"role": "tool", "tool_call_id": call_id, "content": content}


@dataclass(frozen=True)
class Limits:
    """Bounds on what one reply may hold; output types turn them into JSON-schema limits."""

    turns: int = 3
    message_chars: int = 600


class Imported:
    """A class attribute imported when first read: ``Options = Imported("package.module:Name")``.

    Lets a plugin name its pydantic ``Options`` without importing pydantic when the plugin loads
    (``janus --help`` loads every plugin and stays fast)."""

    def __init__(self, target: str):
        self.target = target

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        from importlib import import_module

        module, _, name = self.target.partition(":")
        return vars(import_module(module))[name]


class Backend:
    """Base class for backends; subclasses set ``name``/``description`` and implement ``complete``."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    default_model: ClassVar[str] = ""
    #: Requests the backend serves at once; the engine never sends more than this concurrently.
    max_concurrency: ClassVar[int | None] = None
    #: Requests in flight when the run does not say (``--concurrency``); None: the run's default, 32.
    default_concurrency: ClassVar[int | None] = None
    #: Reply bounds to use when the spec sets none (small models need small replies).
    suggested_limits: ClassVar[Limits | None] = None
    #: Temperatures per role ("user", "assistant") when neither setup.yaml nor ``--temperature`` sets
    #: one: a small model keeps to the facts it is given at a low temperature.
    suggested_temperatures: ClassVar[dict[str, float]] = {}
    #: How records are written when setup.yaml sets no ``generation``: "one-shot" (one JSON reply
    #: per record) or "turns" (one plain-text request per turn; small models write far better text).
    default_generation: ClassVar[str] = "one-shot"
    #: The options ``--option KEY=VALUE`` and setup.yaml ``model.options`` may set: a subclass of
    #: ``janus_core.Options`` (pydantic) whose field descriptions are the help text, validated once
    #: when the backend is built (``self.options`` is the instance). None: the backend takes none.
    Options: ClassVar[type[PluginOptions] | None] = None
    #: Environment variables that may hold the key, first set wins (``key_env_names`` may derive
    #: them from the model instead). The ``api_key_env`` option, where a backend offers it, names
    #: another. Keys come from the environment only: never an option, never setup.yaml.
    key_env: ClassVar[tuple[str, ...]] = ()
    #: Whether the backend offers the provider's batch API (``janus generate --batch``): then it
    #: implements ``batch_submit``, ``batch_poll`` and ``batch_results``.
    batches: ClassVar[bool] = False
    #: What a batched request costs against an online one (providers charge about half).
    batch_discount: ClassVar[float] = 0.5
    #: The provider's limits on one batch: requests, and bytes of its JSONL input.
    batch_limits: ClassVar[tuple[int, int]] = (50_000, 200 * 2**20)
    #: Whether requests cost money: False (the embedded model) prices every request at $0, whatever
    #: the model is called, and ``--max-cost`` has nothing to count for it.
    priced: ClassVar[bool] = True
    #: Whether the backend passes a request's ``tools`` to its provider's own tool calling; when
    #: False the engine describes the tools in the prompt and reads calls written as JSON instead
    #: (``janus_core.sdk.tool_calls``), and renders tool calls and results in the history as text.
    tools_native: ClassVar[bool] = False
    #: The variable ``get_key`` read the key from (None: none was read), named when a server refuses it.
    key_name: str | None = None

    def __init__(self, model: str | None = None, options: dict[str, Any] | None = None):
        self.model = model or self.default_model
        given = dict(options or {})
        #: the API key (from ``get_key``), kept out of every message by ``redact``
        self.secret: str | None = None
        refuse_key_options(type(self), self.model, given, "option")
        #: this backend's validated options (an ``Options`` instance)
        self.options: Any = self.check_options(given)

    @classmethod
    def check_options(cls, options: dict[str, Any]) -> PluginOptions:
        """``options`` validated against ``Options``; OptionsError listing every bad one."""
        from janus_core.sdk.options import NoOptions, validate_options

        return validate_options(cls.Options or NoOptions, options, f"{cls.name} backend")

    @classmethod
    def check_model(cls, model: str | None, options: dict[str, Any]) -> None:
        """Refuse (BackendError) a model name this backend cannot run, before anything is sent; the
        default takes every name (a provider's server says which it knows)."""

    @classmethod
    def key_env_names(cls, model: str | None, options: dict[str, Any] | None = None) -> tuple[str, ...]:
        """The variables this backend reads its key from, for ``model`` and ``options``."""
        from janus_core.sdk.credentials import check_env_name

        chosen = (options or {}).get("api_key_env")
        return (check_env_name(chosen, cls.name),) if chosen else cls.key_env

    def get_key(self, required: bool = True) -> str | None:
        """The key from the first set variable of ``key_env_names``, remembered for ``scrub``;
        a clear error naming the variable when ``required`` and none is set."""
        from janus_core.sdk.credentials import read_key
        from janus_core.sdk.errors import BackendError

        names = self.key_env_names(self.model, self.options.model_dump(exclude_none=True))
        name, value = read_key(names)
        if value is None and required:
            wanted = (names[0] + (f" (or {' or '.join(names[1:])})" if len(names) > 1 else "")) if names \
                else "named by the api_key_env option"
            raise BackendError(f"{self.name} backend: set the environment variable {wanted} to your API key")
        self.secret, self.key_name = value, name
        return value

    def redact(self, text: str) -> str:
        """``text`` with this backend's key, and every other secret loaded, masked (for messages)."""
        from janus_core.sdk.credentials import MASK, scrub

        if self.secret and len(self.secret) > 4:
            text = text.replace(self.secret, MASK)
        return scrub(text)

    @property
    def negotiated(self) -> dict[str, Any] | None:
        """What the backend agreed with its server for this run (the structured-output mode of the
        OpenAI-compatible backends), kept in the journal's meta; None if nothing was negotiated."""
        return None

    def resume_negotiated(self, earlier: dict[str, Any]) -> None:
        """A continued run: ``earlier`` is what ``negotiated`` returned in an earlier run of the same
        journal. A backend that negotiates starts from it rather than asking its server again;
        the default ignores it."""

    def recall_negotiated(self) -> str | None:
        """A new run: a backend that negotiates starts from what an earlier run against the same
        server and model found, if the user's cache still holds it (``janus_core.sdk.mode_cache``);
        returns a note for the user when the cache was ignored. The default does nothing."""
        return None

    def set_concurrency(self, requests: int) -> None:
        """Told before ``start()`` how many requests the engine keeps in flight; a backend that
        serves several at once from one resource (the embedded model's sequences) sizes it so.
        By default nothing."""

    async def start(self) -> None:
        """Open connections or load models before the first request (optional)."""

    async def complete(self, request: CompletionRequest) -> Completion:
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release connections or models."""

    # --- provider batch APIs (optional: set ``batches = True``) -------------------------------------

    async def batch_submit(self, requests: list[tuple[str, CompletionRequest]], local_id: str) -> str:
        """Submit ``(custom_id, request)`` pairs as one batch (within ``batch_limits``) and return the
        provider's batch id. ``local_id`` goes into the batch's metadata, so ``batch_find`` can tell
        whether a submission whose reply was lost (a kill) reached the provider."""
        raise NotImplementedError(f"the {self.name} backend has no batch API")

    async def batch_find(self, local_id: str) -> str | None:
        """The provider's id of the batch submitted with ``local_id``, or None if it never arrived."""
        return None

    async def batch_poll(self, batch_id: str) -> BatchState:
        """The batch's state now."""
        raise NotImplementedError(f"the {self.name} backend has no batch API")

    async def batch_results(self, batch_id: str) -> dict[str, Completion | BackendError]:
        """A finished batch's outcome per custom_id: a Completion, or a BackendError (give it
        ``reason="batch_error"``); ids missing from the answer expired unanswered."""
        raise NotImplementedError(f"the {self.name} backend has no batch API")


@dataclass
class BatchState:
    """Where a provider batch is: ``state`` is "running", "done" (results can be read), "expired"
    (results of what finished can be read; the rest never will) or "failed" (nothing will be)."""

    state: str
    done: int = 0
    failed: int = 0
    total: int = 0
    detail: str = ""


def refuse_key_options(backend: type[Backend], model: str | None, options: dict[str, Any], where: str) -> None:
    """Refuse options named like a key (``api_key``, ``token`` ...), naming the variable to use.

    ``where`` says where the options came from (``--option``, ``setup.yaml``)."""
    from janus_core.sdk.credentials import secret_options, use_instead
    from janus_core.sdk.errors import BackendError

    found = secret_options(options)
    if not found:
        return
    try:
        names = backend.key_env_names(model, {k: v for k, v in options.items() if k == "api_key_env"})
    except BackendError:
        names = backend.key_env
    raise BackendError(f"{where} {found[0]}: keys are never given as options (they would end up in shell history, "
                       f"files and logs); {use_instead(names)}")


@dataclass(frozen=True)
class Direction:
    """An evolving direction: how a seed is written or how a record evolves."""

    name: str
    pack: str
    description: str
    #: Text rendered into {{ direction }}; one is chosen at random when several are given.
    instructions: tuple[str, ...] = ()
    #: A whole prompt template (Jinja2, the same placeholders as setup.yaml's prompts) that
    #: replaces setup.yaml's derivational_prompt when a record evolves along this direction.
    template: str | None = None
    #: What the user simulator is told about the conversation when it goes this way
    #: (``generation: turns``): a sentence in the user's situation ("You want specifics."). None:
    #: the description; "": nothing.
    situation: str | None = None

    def instruction(self, rng: random.Random) -> str:
        options = self.instructions or (self.description,)
        return options[rng.randrange(len(options))]

    @classmethod
    def free_text(cls, text: str) -> Direction:
        """A direction from a string that is not a registered name: used as a style instruction."""
        return cls(name=text, pack="free-text", description=f"Style: {text}", instructions=(f"Style: {text}",))


#: ``ask(messages, schema, temperature=0.0, seed=0, raw=False, role="judge", max_tokens=None,
#: completion=False, tools=None, tool_choice=None)``: a filter's or output type's question to the run's
#: backend; returns the decoded JSON reply (None if it is not JSON), the reply's text with ``raw=True``,
#: or the Completion (text, ``finish_reason``, ``tool_calls``, ``reasoning``) with ``completion=True``
#: or with ``tools`` (OpenAI function definitions; give ``schema`` None then).
Ask = Callable[[list[Message], dict[str, Any]], Awaitable[Any]]


class NoRecord(Exception):
    """Raised by ``OutputType.finish`` when its replies make no usable record (a preference pair the
    judge could not tell apart): the job is eliminated, in the failure ledger as
    ``eliminated:RULE`` with this message; ``rule`` names the check that failed (default: the
    output type's name)."""

    def __init__(self, message: str = "", rule: str | None = None):
        super().__init__(message)
        self.rule = rule


class OutputType:
    """Base class for output types: turns a model's reply into messages (see the
    ``register_output_types`` hook; janus_plugins.outputs holds the built-in ones). Registered as an
    instance. Subclasses implement ``schema``, ``output_format`` and ``parse``; the rest is optional.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: Grows conversations one turn at a time (follow-up): every derivation adds a turn, along
    #: ``grow_direction``, until the conversation has ``--turns`` user turns; ``--input`` works only
    #: for such output types.
    grows: ClassVar[bool] = False
    #: The direction every growing step takes (needed when ``grows``).
    grow_direction: ClassVar[Direction | None] = None
    #: Whether records are evolved along the derivational directions; False: seeds only (a tool-use
    #: dialogue is checked against its own planned task, which an evolution would not keep).
    derives: ClassVar[bool] = True
    #: How this run writes records, set by the plan before any request: "one-shot" (one JSON reply
    #: per record) or "turns" (one plain-text request per turn). ``finish`` may follow it.
    generation: str = "one-shot"
    #: The temperature each record's own reply is written at in this run (the assistant's with
    #: ``generation: turns``), set by the plan before any request; ``finish`` may record it.
    reply_temperature: float = 0.8

    def schema(self, limits: Limits) -> dict[str, Any]:
        """JSON schema of one reply."""
        raise NotImplementedError

    def output_format(self, limits: Limits, derive: bool) -> str:
        """Instructions for the prompt's {{ output_format }}: what to write and in which JSON shape."""
        raise NotImplementedError

    def parse(self, data: Any) -> list[Message]:
        """Messages (user/assistant) from a reply already decoded from JSON; ValueError if unusable."""
        raise NotImplementedError

    def prepare(self, spec: Any, seed: int) -> None:
        """Called once when a run's plan is made, before any request, with the run's spec
        (``janus_core.spec.model.Spec``) and ``--seed``: an output type that needs something built
        from the spec (the tool-use types build their SQLite world) does it here. By default nothing."""

    def role_play_turns(self, limits: Limits, derive: bool) -> int | None:
        """User turns a record gets when written turn by turn (``generation: turns``): a user
        simulator writes each user turn, the assistant answers it. None (the default): this output
        type cannot be written so, and the plan asks for one JSON reply per record instead."""
        return None

    def derive(self, parent: list[Message], new: list[Message]) -> list[Message]:
        """The messages of a record derived from ``parent`` whose reply parsed to ``new``; by default
        the parent's conversation continued."""
        return parent + new

    def sample(self, rng: random.Random, parent_meta: dict[str, Any] | None) -> dict[str, Any] | None:
        """Something drawn per job (a preference set), the same every time for the same job:
        ``{"system": str, "meta": dict}``; "system" is shown to the model and starts the record's
        messages, "meta" is kept in the record; an optional "brief" is shown to the model in the job's
        request (after the output format) and not kept. None (the default): nothing is drawn."""
        return None

    def sample_for(self, context: Any, rng: random.Random, parent_meta: dict[str, Any] | None) -> dict[str, Any] | None:
        """``sample`` for a job whose seed context (``janus_core.plan.graph.SeedContext``: the walk's
        entities and relationships) the draw may use; by default ``sample``."""
        return self.sample(rng, parent_meta)

    async def finish(self, record: Record, ask: Ask, rng: random.Random) -> Record:
        """More requests after the first reply (more answers, a judge): ``ask(messages, schema,
        temperature=...)`` goes through the engine like every request. ValueError or TypeError if the
        replies are unusable, NoRecord if they are usable but make no record. By default the record
        as it is."""
        return record


class Filter:
    """Base class for record filters (see the ``register_filters`` hook)."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    evolution_only: ClassVar[bool] = False
    default: ClassVar[bool] = True
    #: The options setup.yaml ``filter_options.NAME`` may set: a subclass of ``janus_core.Options``
    #: (pydantic), whose field descriptions are the help text. None: the filter takes none.
    Options: ClassVar[type[PluginOptions] | None] = None
    _options: Any = None

    @property
    def options(self) -> Any:
        """This run's options: what ``configure`` was given, else the ``Options`` defaults."""
        if self._options is None and self.Options is not None:
            self._options = self.Options()
        return self._options

    def configure(self, spec: Any, options: Any = None) -> None:
        """The run's spec and this filter's validated options (an ``Options`` instance, or None for
        the defaults). Subclasses that read the spec call this first."""
        self._options = options

    def prime(self, records: Iterable[Record]) -> None:
        """Records that exist already (a resumed run's, --against datasets): optional."""

    async def check(self, record: Record, parent: Record | None, ask: Ask) -> str | None:
        """Why ``record`` must go (a short reason), or None to keep it. A filter may note what it
        found in ``record.meta`` (a judge's scores, say): the meta is kept with the record."""
        raise NotImplementedError


class RememberingFilter(Filter):
    """A filter that remembers the records it lets through (the duplicate filters).

    Once every filter's ``check`` passed, the engine calls ``recheck`` on every remembering filter
    and then ``remember``, without a pause in between, so two records checked at the same time
    cannot both pass as new.
    """

    def recheck(self, record: Record, parent: Record | None) -> str | None:
        """Check again against what was remembered since ``check`` (no side effects); None to keep."""
        return None

    def remember(self, record: Record, parent: Record | None) -> None:
        """The record is kept: remember it."""


class Sink:
    """Base class for dataset writers.

    A sink is built as ``SinkClass(path, options)`` and used as ``open()``, ``write(records)`` any
    number of times, ``close()``. ``write`` must leave the data durable when it returns. Sinks may
    count the records their format could not express (``skipped``); ``janus export`` counts the rows
    it hands to ``write`` itself. ``written`` and ``skipped`` are class-level defaults (0), so a sink
    whose ``__init__`` does not call this one's still has them.
    ``options`` holds what the command asks of every sink: ``format`` (``janus export --format``),
    and for ``remote`` sinks the split and upload settings; a sink ignores what it does not use.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    suffixes: ClassVar[tuple[str, ...]] = ()
    #: uploads a finished run when it closes (the Hub) instead of writing records as they finish;
    #: such a sink receives every record of a finished run and may split them itself
    remote: ClassVar[bool] = False
    #: records written and records skipped (no form in the chosen format); ``+=`` makes them the instance's
    written: int = 0
    skipped: int = 0
    #: why the last skipped record was skipped ("have no dpo form"), for the export's summary
    last_skip_reason: str | None = None

    def __init__(self, path: Path, options: dict[str, Any] | None = None):
        self.path = Path(path)
        self.options = dict(options or {})
        self.written = 0
        self.skipped = 0

    def open(self) -> None: ...

    def write(self, records: list[Record]) -> None:
        raise NotImplementedError

    def close(self) -> None: ...

    def report(self) -> list[str]:
        """Lines to print once the sink closed (what a remote sink uploaded); none by default."""
        return []


class Tool:
    """A tool an assistant may call on a world database (see the ``register_tools`` hook).

    ``name`` (letters, digits, '_' and '-', at most 64 characters), ``description`` (plain words the
    model reads) and ``parameters`` (a JSON Schema object) make its OpenAI function definition;
    ``run(conn, arguments)`` does the work on the conversation's private copy of the world (an
    ``sqlite3.Connection``; use parameterised SQL only) with arguments already checked against
    ``parameters``, and returns a JSON-serialisable result. Raise ``LookupError`` for "no such
    row" and ``ValueError`` for a request the tool refuses: the caller gets them as error results.
    """

    name: str = ""
    description: str = ""
    parameters: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}  # noqa: RUF012
    #: writes to the world (create, update, delete); read-only tools leave this False
    writes: bool = False

    def run(self, conn: Any, arguments: dict[str, Any]) -> Any:
        raise NotImplementedError

    def definition(self) -> dict[str, Any]:
        """The OpenAI function definition: ``{"type": "function", "function": {...}}``."""
        return {"type": "function", "function": {"name": self.name, "description": self.description,
                                                 "parameters": self.parameters}}


def no_dialects() -> tuple[str, ...]:
    """A diagram reader's dialects by default: none."""
    return ()


@dataclass(frozen=True)
class DiagramReader:
    """Reads one kind of diagram file into a Diagram: ``read(text, where)``.

    A reader of a language with dialects (SQL) returns their names from ``dialects()`` (asked only
    when the user names one, so a reader may import its parser there); when the user names one
    (setup.yaml's ``sql_dialect``, ``--sql-dialect``), Janus checks it is among them and calls
    ``read(text, where, dialect=NAME)``. A reader with no dialects is never given one.
    """

    name: str
    suffixes: tuple[str, ...]
    detect: Any  # Callable[[str], bool]
    read: Any  # Callable[[str, str], janus_core.spec.diagram.Diagram], plus dialect=NAME with ``dialects``
    description: str = ""
    #: the dialect names ``read`` takes as ``dialect=`` (sqlglot's, for SQL); none by default
    dialects: Callable[[], tuple[str, ...]] = no_dialects


@dataclass(frozen=True)
class GenerateOption:
    """A flag a plugin adds to ``janus generate`` (see the ``register_generate_options`` hook).

    ``option`` is a ``click.Option`` with help text; when the user gives it, ``apply(value,
    filter_options)`` updates the run's ``filter_options`` (setup.yaml's, by filter name) in place.
    """

    option: Any  # click.Option
    apply: Callable[[Any, dict[str, dict[str, Any]]], None]

    @property
    def name(self) -> str:
        return self.option.name


@dataclass
class Registered:
    """One registered object and the plugin that registered it."""

    name: str
    obj: Any
    plugin: str
