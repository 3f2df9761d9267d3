"""Built-in elimination filters, run on every new record (the Evol-Instruct elimination rules).

- ``control-characters``: a message holding control characters other than tab and newline (ESC,
  BEL, a lone CR, DEL, C1 controls: ``control.py``), which would reach every terminal that prints it;
- ``no-change``: an evolved request that says what its parent said (a cheap similarity check
  decides clear cases; the model judges the rest);
- ``refusal``: a short answer that declines (an inability to help, with or without an apology:
  "I'm sorry, but I can't help with that", "I cannot provide medical advice", "As an AI, I am
  unable to ..."); sympathy ("I'm sorry to hear that", "I'm sorry for your loss") is no refusal;
- ``stopwords-only``: a message of nothing but punctuation and stop words;
- ``leakage``: text that leaks the evolution wording or the diagram's syntax;
- ``duplicate``: the same text as an earlier record (normalised), or a near copy of one (MinHash
  LSH, Jaccard >= 0.8 on word 5-grams), within the run and against ``--against`` datasets; and an
  evolution whose new turns are >= 80 % (of word 5-grams) already in the whole conversation of a
  record of its lineage (``lineage near-copy``: a derivation that repeats its parent's turns);
- ``role-consistency``: the assistant speaking as the user's role (``COUNSELEE: ...``, "As a
  counselee, ...") or the user as the assistant's;
- ``length``: an empty message, or a record over 4,000 words or about 8,000 tokens;
- ``text-quality``: unreadable turns by Gopher/C4/FineWeb-style heuristics (``quality.py``);
- ``scenario-consistency``: a turn out of its role (cheap checks), or, with ``model_check``, a
  conversation the model judges out of role or against the diagram's facts (``scenario.py``);
- ``language`` (on when configured): a message in another language than the expected ones;
- ``decontamination`` (on when configured): a record sharing n-grams with a benchmark file;
- ``semantic-duplicate`` (on when configured): a record whose sentence embedding is within a cosine
  threshold of an earlier one's (the ``embed`` extra);
- ``judge`` (on when configured): rubric-based grading 1 to 5 by the model, with ``min_score``.

Options are set in setup.yaml under ``filter_options: {NAME: {...}}``; naming a filter there
switches it on. Each filter's ``Options`` model lists what it takes.
"""

from __future__ import annotations

import difflib
import os
import re
from collections import OrderedDict
from typing import Any

from janus_core import hookimpl
from janus_core.sdk.contracts import Ask, Filter, RememberingFilter
from janus_core.sdk.records import added_text, new_messages, spoken

STOP_WORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between
both but by can could did do does doing down during each few for from further had has have having he her
here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
now of off on once only or other our ours ourselves out over own same she should so some such than that the
their theirs them themselves then there these they this those through to too under until up very was we
were what when where which while who whom why will with would you your yours yourself yourselves ok okay
yes sure well oh hmm
""".split())
#: declining: not being able, allowed or willing to help, answer or advise (an apology alone is sympathy)
REFUSAL = re.compile(
    r"\bI(?: can(?:no|')?t| can not| am (?:not able|unable)|'m (?:not able|unable)|(?:'m| am) afraid I can(?:no|')?t"
    r"|(?:'m| am) not (?:allowed|permitted|authori[sz]ed|qualified|in a position)"
    r"|(?: won't| will not)(?: be able to)?)"
    r"(?: to)?(?: \w+ly)? (?:help\b(?! (?:but|it|feeling|thinking|noticing|wondering)\b)|assist|do (?:that|this)"
    r"|answer|respond|comply|fulfil+|engage|discuss|support that|advise|diagnose|prescribe"
    r"|(?:provide|give|offer|share) (?:you )?(?:with )?(?:any |specific |personal |medical |legal |financial "
    r"|professional |such )*(?:advice|information|guidance|recommendations?|opinions?|assistance|help|support"
    r"|answers?))"
    r"\b|\bI (?:must|have to|need to) (?:respectfully |politely )?(?:decline|refuse)\b"
    r"|\bthat(?:'s| is) not something I can (?:help|assist|do|provide|answer)"
    r"|\bas an ai\b", re.I)
LEAKS = [
    (re.compile(r"#?\b(given|rewritten|original|created)\s+prompt\b#?", re.I), "evolution wording"),
    (re.compile(r"\bprompt rewriter\b", re.I), "evolution wording"),
    (re.compile(r"\berDiagram\b"), "diagram syntax 'erDiagram'"),
    (re.compile(r"[|}][|o](--|\.\.)[|o][|{]"), "a cardinality marker"),
    (re.compile(r"%%"), "a %% comment marker"),
]


def _last_user(messages: list[dict[str, str]]) -> str:
    return next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")


def similarity(a: str, b: str, at_least: float = 0.0) -> float:
    """0..1 likeness of two texts, on their lower-cased words. With ``at_least``, a likeness that
    cheap upper bounds already put below it is returned as that bound (the full comparison is skipped)."""
    matcher = difflib.SequenceMatcher(None, a.lower().split(), b.lower().split(), autojunk=False)
    if at_least:
        bound = matcher.real_quick_ratio()
        if bound < at_least:
            return bound
        bound = matcher.quick_ratio()
        if bound < at_least:
            return bound
    return matcher.ratio()


JUDGE_SCHEMA = {"type": "object", "additionalProperties": False, "required": ["equal"],
                "properties": {"equal": {"type": "boolean"}}}


class NoChange(Filter):
    name = "no-change"
    description = "an evolved request no different from its parent's (similarity check, then the model)"
    evolution_only = True
    same_above = 0.9
    different_below = 0.5

    async def check(self, record, parent, ask: Ask) -> str | None:
        new = _last_user(new_messages(record, parent))
        old = _last_user([m for m in parent.messages if m["role"] != "system"])
        score = similarity(new, old, self.different_below)
        if score >= self.same_above:
            return f"the evolved request is {score:.0%} the same as its parent's"
        if score < self.different_below:
            return None
        reply = await ask([{"role": "user", "content": (
            "Here are two requests a user made to an AI assistant.\n"
            f"First request:\n{old}\n\nSecond request:\n{new}\n\n"
            "Do they have the same constraints and requirements, and the same depth and breadth of "
            'inquiry? Answer with JSON only: {"equal": true} or {"equal": false}.')}], JUDGE_SCHEMA)
        if isinstance(reply, dict) and reply.get("equal") is True:
            return f"the model judged the evolved request equal to its parent's (similarity {score:.0%})"
        return None


class Refusal(Filter):
    name = "refusal"
    description = "a short answer that declines to help (an inability, with or without an apology; not sympathy)"
    max_words = 80

    async def check(self, record, parent, ask: Ask) -> str | None:
        for message in new_messages(record, parent):
            text = message["content"]
            if message["role"] == "assistant" and len(text.split()) < self.max_words and REFUSAL.search(text):
                return f"the answer is a refusal: {text[:80]!r}"
        return None


class StopwordsOnly(Filter):
    name = "stopwords-only"
    description = "a message made only of punctuation and stop words"

    async def check(self, record, parent, ask: Ask) -> str | None:
        for message in new_messages(record, parent):
            words = re.findall(r"[^\W_]+", message["content"].lower())
            if not [w for w in words if w not in STOP_WORDS]:
                shown = message["content"][:60]
                return f"the {message['role']} message holds only punctuation and stop words: {shown!r}"
        return None


class Leakage(Filter):
    name = "leakage"
    description = "text that leaks the evolution wording or the diagram syntax (erDiagram, ||--o{, %%)"

    async def check(self, record, parent, ask: Ask) -> str | None:
        for message in new_messages(record, parent):
            for pattern, what in LEAKS:
                found = pattern.search(message["content"])
                if found:
                    return f"the {message['role']} message leaks {what}: {found.group(0)!r}"
        return None


class Pending(OrderedDict):
    """Work a filter did in ``check``, kept for ``recheck`` and ``remember``; records another filter
    eliminates never get there, so only the newest ``cap`` entries are kept (a dropped one is redone)."""

    cap = 10_000

    def put(self, key: str, value: Any) -> None:
        self[key] = value
        if len(self) > self.cap:
            self.popitem(last=False)


#: what two records must not share: for an evolution, what it adds to its parent
dedup_text = added_text


class Duplicate(RememberingFilter):
    name = "duplicate"
    description = "an exact or near copy (MinHash LSH, Jaccard >= 0.8 on word 5-grams) of an earlier record"

    def __init__(self) -> None:
        self._deduper: Any = None
        self._lineages: Any = None
        self._pending = Pending()

    @property
    def Options(self) -> Any:  # imported on use: starting the CLI needs no pydantic
        from .options import DuplicateOptions

        return DuplicateOptions

    def configure(self, spec: Any, options: Any = None) -> None:
        super().configure(spec, options)
        self._deduper, self._lineages, self._pending = None, None, Pending()

    @property
    def deduper(self) -> Any:
        if self._deduper is None:
            from janus_core.data.dedup import Deduper

            self._deduper = Deduper(self.options.threshold, ngram=self.options.ngram)
        return self._deduper

    @property
    def lineages(self) -> Any:
        """Whole conversations by lineage, for the lineage near-copy check."""
        if self._lineages is None:
            from janus_core.data.dedup import Lineages

            self._lineages = Lineages(self.options.threshold, ngram=self.options.ngram)
        return self._lineages

    def _lineage_copy(self, record, parent) -> str | None:
        """Why an evolution is a near copy inside its lineage (its new turns already in one record's
        whole conversation), or None."""
        if parent is None:
            return None
        from janus_core.data.dedup import whole_text

        found = self.lineages.copied(record.seed_id, dedup_text(record, parent), (parent.id, whole_text(parent)))
        if found is None:
            return None
        return f"lineage near-copy: {found[1]:.0%} of what it adds is already in record {found[0]} of its lineage"

    def prime(self, records) -> None:
        """Remember records made before (a resumed run) or given with --against. The index is built here,
        before the run, even with nothing to remember: its imports take seconds that would otherwise
        stall the event loop, with every request in flight, at the first record."""
        self.deduper  # noqa: B018 - built now, not at the first record
        from janus_core.data.dedup import whole_text

        by_id = {}
        for record in records:
            by_id[record.id] = record
            self.deduper.check_and_add(record.id, dedup_text(record, by_id.get(record.parent_id)))
            self.lineages.add(record.seed_id, record.id, whole_text(record))

    async def check(self, record, parent, ask: Ask) -> str | None:
        found, token = self.deduper.query(dedup_text(record, parent))
        if found is None:
            self._pending.put(record.id, token)
        return _duplicate_reason(found) or self._lineage_copy(record, parent)

    def _token(self, record, parent) -> Any:
        token = self._pending.get(record.id)
        if token is None:  # dropped from the pending entries: do the work again
            token = self.deduper.query(dedup_text(record, parent))[1]
            self._pending.put(record.id, token)
        return token

    def recheck(self, record, parent) -> str | None:
        return _duplicate_reason(self.deduper.requery(self._token(record, parent))) or \
            self._lineage_copy(record, parent)

    def remember(self, record, parent) -> None:
        from janus_core.data.dedup import whole_text

        self.deduper.add(record.id, self._token(record, parent))
        self.lineages.add(record.seed_id, record.id, whole_text(record))
        self._pending.pop(record.id, None)


def _duplicate_reason(found: tuple[str, str] | None) -> str | None:
    if found is None:
        return None
    kind, other = found
    return f"{'an exact' if kind == 'exact' else 'a near'} duplicate of record {other}"


class RoleConsistency(Filter):
    name = "role-consistency"
    description = "the assistant speaking as the user's role, or the user as the assistant's"

    def __init__(self) -> None:
        self.roles: tuple[str, str] | None = None

    def configure(self, spec: Any, options: Any = None) -> None:
        self.roles = (spec.setup.user_role, spec.setup.assistant_role)

    async def check(self, record, parent, ask: Ask) -> str | None:
        if self.roles is None:
            return None
        user_role, assistant_role = self.roles
        wrong = {"assistant": user_role, "user": assistant_role}
        for message in new_messages(record, parent):
            other = wrong.get(message["role"])
            if other is None:
                continue
            words = r"[ _]".join(re.escape(w) for w in other.replace("_", " ").split())
            pattern = re.compile(rf"^\W*(\[?{words}\]?\s*:|as (?:a|an|the|your) {words}\b)", re.I)
            if pattern.search(message["content"]):
                return f"the {message['role']} speaks as the {other}: {message['content'][:60]!r}"
        return None


class Length(Filter):
    name = "length"
    description = "a record with an empty-ish message (under 1 word) or over 4,000 words / about 8,000 tokens"

    @property
    def Options(self) -> Any:
        from .options import LengthOptions

        return LengthOptions

    async def check(self, record, parent, ask: Ask) -> str | None:
        o = self.options
        total_words = total_chars = 0
        for message in spoken(record.messages):
            count = len(message["content"].split())
            if message["role"] != "system" and count < o.min_words:
                return f"a {message['role']} message has {count} words, under {o.min_words}"
            total_words += count
            total_chars += len(message["content"])
        if total_words > o.max_words:
            return f"{total_words} words, over {o.max_words}"
        if total_chars / 4 > o.max_tokens:
            return f"about {total_chars // 4} tokens, over {o.max_tokens}"
        return None


@hookimpl
def register_filters(register):
    from .control import ControlCharacters
    from .decontamination import Decontamination
    from .direction import DirectionShown
    from .judge import Judge
    from .language import Language
    from .quality import TextQuality
    from .scenario import ScenarioConsistency
    from .semantic import SemanticDuplicate

    # cheap checks first; the judge, which pays for requests, last
    for f in (ControlCharacters(), NoChange(), Refusal(), StopwordsOnly(), Leakage(), RoleConsistency(), Length(),
              TextQuality(), ScenarioConsistency(), DirectionShown(), Language(), Decontamination(), Duplicate(),
              SemanticDuplicate(), Judge()):
        register(f)


def _judge_min_score(value: float, options: dict[str, dict[str, Any]]) -> None:
    options.setdefault("judge", {})["min_score"] = value


def _judge_rubrics(value: str, options: dict[str, dict[str, Any]]) -> None:
    options.setdefault("judge", {})["rubrics"] = os.path.abspath(value)


def _languages(value: tuple[str, ...], options: dict[str, dict[str, Any]]) -> None:
    options.setdefault("language", {})["expected"] = list(value)


def _benchmarks(value: tuple[str, ...], options: dict[str, dict[str, Any]]) -> None:
    options.setdefault("decontamination", {})["benchmark"] = [os.path.abspath(p) for p in value]


@hookimpl
def register_generate_options(register):
    import click

    from janus_core.sdk.contracts import GenerateOption

    register(GenerateOption(click.Option(
        ["--min-score"], type=click.FloatRange(1, 5), help="Grade every record with the judge filter (one "
        "request per rubric, 1 to 5) and drop those whose average is below this."), _judge_min_score))
    register(GenerateOption(click.Option(
        ["--rubrics"], type=click.Path(exists=True, dir_okay=False), help="Grade with the judge filter against "
        "these rubrics (YAML: name, criteria, scores 1-5) instead of the built-in ones."), _judge_rubrics))
    register(GenerateOption(click.Option(
        ["--language", "languages"], multiple=True, metavar="CODE", help="Drop records with a message in another "
        "language than this ISO 639-1 code (repeat for several; the language filter)."), _languages))
    register(GenerateOption(click.Option(
        ["--decontaminate"], multiple=True, type=click.Path(exists=True, dir_okay=False), help="Drop records "
        "sharing n-grams with this benchmark file (JSONL or text; repeatable); kept records that overlap a "
        "little carry the overlap in meta.contamination."), _benchmarks))
