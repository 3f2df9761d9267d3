"""The ``text-quality`` filter: heuristics that catch unreadable chat turns, on by default.

The rules follow the document-level quality filters of web-scale pretraining corpora, with
thresholds adapted to single chat messages (a turn is far shorter than a web page):

- ``min-words`` / ``max-words``: words per message (Gopher, Rae et al. 2021, MassiveText quality
  filters: a document of 50 to 100,000 words; C4, Raffel et al. 2020: lines of at least 3 words).
- ``english-words``: ordinary English words in the prose of a message (Gopher's stop-word rule:
  at least 2 of "the, be, to, of, and, that, have, with" in a document; here at least
  ``min_common_words`` (1) of a wider list of stop words and common words, as a message is short;
  0 turns it off for datasets in other languages; off too when the ``language`` filter is
  configured, which then decides what language a message is in).
- ``mean-word-length``: mean word length within bounds (Gopher: 3 to 10 characters; here 2.5 to
  10, since chat is more casual, and only for messages of ``stats_min_words`` words or more).
- ``alpha-words``: share of words holding an alphabetic character (Gopher: at least 80 %; here
  60 %, since a short answer quoting prices, times or dates is mostly numbers).
- ``top-ngram``: characters covered by the most frequent word 2-, 3- and 4-gram (Gopher: at
  most 20 %, 18 %, 16 %).
- ``duplicate-ngram``: characters in duplicated word 5- to 10-grams (Gopher: at most 15 % for
  5-grams falling by 1 % per n to 10 % for 10-grams).
- ``repeated-lines``: duplicated lines in a message (Gopher: at most 30 % of lines and 20 % of
  characters in duplicated lines; FineWeb, Penedo et al. 2024, uses the same repetition rules).
- ``runaway-token``: a "word" over ``max_word_chars`` (25) characters, as small models write when
  they loop on a syllable (``AuvaMgAuAuAuAu...``); URLs, paths, identifiers and code are left out.
- ``placeholder``: a turn that is a placeholder rather than a message (``user1234567``, a role or
  entity name, a lone first name such as ``Emma``) or holds a template slot left unfilled: a
  bracket of 1 to 5 words, capitalised or naming a name, date, address, number, company, phone
  or e-mail (``[Name]``, ``[Adviser's Name]``, ``[Insert date]``, ``<name>``, ``{date}``), or an
  unrendered ``{{ x }}``; not markdown links ``[text](url)``, citations ``[1]``, checkboxes
  ``[x]`` or code.
- ``echoed-instruction``: a turn that echoes the instructions it was written from rather than
  speaking ("Here's an example of how you might respond:", "Your next message is ...:",
  "Rewritten message:", "A response from the librarian is:", "1. Rewrite the request to ...").
- ``editor-voice``: a turn that talks as an editor of a draft ("Here's a more polished version:",
  "Here is a revised version of the answer:", "I'll provide a revised version").
- ``copies-prompt``: a turn copying the instructions it was written from (a direction's
  instruction, the prompt templates, the output format), by word n-gram overlap.
- ``repeated-turn``: the same message (or nearly, by word similarity) twice in one record.

Code blocks and inline code are left out of every measure. ``readable(record)`` is the looser
check the quality benchmark reports: every non-system turn has 3 words or more, ordinary English
words among them, and no runaway token.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import Callable, Sequence
from functools import cache, lru_cache
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from janus_core.sdk.contracts import Ask, Filter
from janus_core.sdk.options import Options

from .options import StrList, known_rules

RULES = ("placeholder", "runaway-token", "min-words", "max-words", "english-words", "copies-prompt",
         "mean-word-length", "alpha-words", "repeated-lines", "top-ngram", "duplicate-ngram", "repeated-turn",
         "echoed-instruction", "editor-voice")

#: Common English words besides the stop words: frequent content words and one-word replies. Used to
#: tell ordinary English from junk and a lone name from a one-word answer.
COMMON_WORDS = frozenset("""
absolutely actually advice afraid agree agreed alright already also always another answer anything anyway
appreciate ask asked back bad best better big bit bye call can't care case certainly change child children
close come could day days definitely different do don't done down easy else enough even every everyone
everything exactly example fact family feel feeling fine first get give go going good got great had happy
hard have hello help here hey hi home hope hour idea i'd i'll i'm important indeed is it's i've keep kind
know last let life like little long look lot love make many maybe mean might mind money month more much
must need never new next nice night no nothing now number often okay old one only other part people perfect
person place plan please point possible pretty probably problem question quite real really reason right
said same say see seem should since something sometimes soon sorry start still stop sure take talk tell
thank thanks that's there's thing things think though thought time today together told tomorrow try trying
understand understood use used usually want way week well what's when why work working worry would wrong
year years yes yet you're you've
""".split())

_CODE = re.compile(r"```.*?(?:```|$)|`[^`\n]*`", re.S)
_URLISH = re.compile(r"^(?:https?://|www\.|\S+@\S+\.\w+$)", re.I)
_IDENTIFIER = re.compile(r"[_./\\=(){}\[\]<>:]")
_EDGE_PUNCT = re.compile(r"^\W+|\W+$")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
_LETTERS = re.compile(r"[^\W\d_]")
_ALNUM = re.compile(r"[^\W_]")
#: a whole turn that is a placeholder: a word with a number (user1234567), a bracketed slot, a
#: schema or null word
_PLACEHOLDER_TURN = [
    re.compile(r"^[^\W\d_]+[ _-]?\d{3,}$"),
    re.compile(r"^\s*(?:\[[^\]]*\]|<[^>]*>|\{[^}]*\})\s*$"),
    re.compile(r"^(?:n/?a|none|null|nil|todo|tbd|x{3,}|\.{3,}|\?+|string|text|content|message|lorem ipsum.*)$",
               re.I),
]
#: a placeholder anywhere in a turn: a template slot left unfilled
_PLACEHOLDER_SLOT = re.compile(
    r"\[(?:your|insert|user'?s?|client'?s?|customer'?s?|patient'?s?|first|last|full)\b[^\]\n]{0,30}\]"
    r"|\{\{\s*\w+\s*\}\}|\b(?:user|assistant|customer|client|patient|person|name)[_-]?\d{4,}\b", re.I)
#: a bracket that may be a template slot: [...] not followed by a link's (url) or [ref], <...>, {...}
_BRACKETED = re.compile(r"\[([^\[\]\n]{1,60})\](?![(\[])|<([^<>\n]{1,60})>|\{([^{}\n]{1,60})\}")
_SLOT_WORD = re.compile(r"[^\W\d_][\w'’.-]*")
#: words that make a bracket a slot however it is written
_SLOT_KEYWORDS = re.compile(r"\b(?:names?|dates?|address(?:es)?|numbers?|company|compan(?:y|ies)|phones?|e-?mails?"
                            r"|insert|your)\b|_(?:name|date|number|id)\b", re.I)
#: small words a capitalised slot may hold in lower case ("[Name of the Library]")
_SLOT_SMALL = frozenset("of the and or a an for to in on at by with".split())
#: brackets of capitalised words that are not slots: editorial marks, keys on a keyboard
_NOT_SLOTS = frozenset("""
sic note edit update optional required important enter tab esc escape ctrl shift alt space return delete
backspace home end cmd
""".split())
#: a turn echoing its instructions: an example of a reply, a label for the rewritten text, an evolution step
_ECHOED = re.compile(
    r"\bhere(?:'s| is| are) (?:an? |some )?examples? of (?:how|what) (?:you|I|one|the [\w ]{1,30}?) "
    r"(?:might|could|would|should|can|may) (?:respond|reply|answer|say|write|ask|phrase)"
    r"|\bhow you (?:might|could|should) (?:respond|reply)\b"
    r"|\byour (?:next|first|new) (?:message|response|reply|turn)\b(?: to (?:the|your) [\w ]{1,30}?)?\s+"
    r"(?:is|should|could|will|might|would|can|must)\b"
    r"|\A\W*(?:the )?end of (?:the )?(?:conversation|dialogue|chat|exchange|scene)\W*\Z"
    r"|\bhere(?:'s| is) (?:a|an) (?:suggested |possible |sample |example |proposed )?"
    r"(?:alternative|response|reply|answer|rewrite|message|wording)\s*:"
    r"|\b(?:a|an|the|my) (?:possible |sample |example |suggested |typical )?(?:response|reply|answer) (?:from|by) "
    r"(?:the|a|an|your) [\w' -]{1,40}? (?:is|would be|could be|might be)\s*:"
    r"|\b(?:example|sample|suggested|possible) (?:response|reply|answer)s?\s*:"
    r"|^\W*(?:rewritten|revised|improved|evolved|new|final|polished|edited|created|given) "
    r"(?:message|request|question|prompt|response|reply|answer|version|instruction|text)\s*:"
    r"|\A\W*(?:response|reply|answer|output|message)\s*:"
    r"|^\W*(?:\d+[.)]\s*)?(?:rewrite|rephrase|reword|paraphrase|evolve|complicate) (?:the|this|your|my|a|an) "
    r"(?:[\w'-]+ ){0,3}?(?:request|prompt|question|instruction|message|query|task)\b"
    r"|^\W*(?:\d+[.)]\s*)?(?:make|add|increase) (?:the|this) (?:user's )?(?:last )?(?:request|prompt|question) "
    r"(?:more|harder|deeper)\b", re.I | re.M)
#: a turn talking as an editor of a draft
_EDITOR = re.compile(
    r"\b(?:here(?:'s| is)|below is|i(?:'ll| will| can) (?:provide|give|offer|write|share)|let me (?:provide|give|offer"
    r"|share|write)) (?:you )?(?:a|an|the|my) (?:more (?:polished|refined|concise|natural|professional|formal|casual"
    r"|engaging|polite|specific|complex|challenging)|revised|rewritten|polished|improved|edited|refined|reworded"
    r"|corrected|condensed|shortened|tweaked|alternative) (?:version|draft|rewrite|response|answer|reply|message"
    r"|text|wording)\b"
    r"|\bI(?:'ve| have) (?:revised|rewritten|reworded|polished|edited|refined|improved) (?:the|your|my|this|that) "
    r"(?:response|answer|reply|message|text|request|question|prompt|draft)\b"
    r"|\b(?:this|my) (?:revised|rewritten|polished|improved|edited) version\b", re.I)


def _phrase_rule(pattern: re.Pattern[str], what: str) -> Callable[[str, list[str]], str | None]:
    def rule(text: str, words: list[str]) -> str | None:
        found = pattern.search(prose(text).replace("’", "'"))
        return f"{what}: {' '.join(found.group(0).split())!r}" if found else None
    return rule


class TextQualityOptions(Options):
    """Thresholds of the text-quality rules (setup.yaml ``filter_options: {text-quality: {...}}``)."""

    skip: StrList = Field(default_factory=list, description=f"rules not to apply: {', '.join(RULES)}")
    min_words: int = Field(3, ge=0, description="fewest words in a user or assistant message (C4: 3 per line)")
    max_words: int = Field(1500, ge=1, description="most words in one message")
    min_common_words: int = Field(1, ge=0, description="fewest common English words in a message's prose (Gopher: "
                                                       "2 stop words a document; 0: off, for other languages)")
    stats_min_words: int = Field(8, ge=1, description="word-length and alphabetic-share rules apply from this "
                                                      "many words")
    min_mean_word_length: float = Field(2.5, ge=0, description="Gopher: 3 (chat is more casual)")
    max_mean_word_length: float = Field(10, gt=0, description="Gopher: 10")
    min_alpha_words: float = Field(0.6, ge=0, le=1, description="share of words with a letter (Gopher: 0.8; chat "
                                                                "answers quote prices, times and dates)")
    ngram_min_words: int = Field(20, ge=2, description="n-gram repetition rules apply from this many words")
    max_top_ngram: dict[int, float] = Field(default_factory=lambda: {2: 0.20, 3: 0.18, 4: 0.16},
                                            description="n -> most characters in the top n-gram (Gopher)")
    max_duplicate_ngram: dict[int, float] = Field(
        default_factory=lambda: {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10},
        description="n -> most characters in duplicated n-grams (Gopher)")
    max_duplicate_lines: float = Field(0.3, ge=0, le=1, description="share of duplicated lines (Gopher: 0.3)")
    max_duplicate_line_chars: float = Field(0.2, ge=0, le=1,
                                            description="share of characters in duplicated lines (Gopher: 0.2)")
    max_word_chars: int = Field(25, ge=5, description="longest word; longer is a runaway token")
    prompt_ngram: int = Field(5, ge=2, le=20, description="word n-grams compared with the prompt text")
    max_prompt_overlap: float = Field(0.5, gt=0, le=1,
                                      description="most share of a turn's word n-grams found in the prompt text")
    max_turn_similarity: float = Field(0.9, gt=0, le=1,
                                       description="two turns at least this alike (word similarity) repeat")

    @field_validator("skip")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        return known_rules(value, RULES)

    @model_validator(mode="after")
    def _bounds(self) -> TextQualityOptions:
        if self.min_mean_word_length >= self.max_mean_word_length:
            raise ValueError("min_mean_word_length must be below max_mean_word_length")
        for name in ("max_top_ngram", "max_duplicate_ngram"):
            for n, share in getattr(self, name).items():
                if not (1 <= n <= 20 and 0 < share <= 1):
                    raise ValueError(f"{name}: n from 1 to 20 and a share from 0 to 1 (got {n}: {share})")
        return self


# --- measures ------------------------------------------------------------------------------------

@lru_cache(maxsize=4096)
def prose(text: str) -> str:
    """``text`` without code blocks and inline code (the rules ask for it several times a message)."""
    return _CODE.sub(" ", text)


@lru_cache(maxsize=4096)
def words_of(text: str) -> tuple[str, ...]:
    return tuple(prose(text).split())


@lru_cache(maxsize=4096)
def normalise(text: str) -> str:
    """Lower case, words and numbers only: for comparing turns."""
    return " ".join(_WORD.findall(text.lower()))


def runaway_tokens(text: str, max_chars: int = 25) -> list[str]:
    """Words over ``max_chars`` characters, leaving out URLs, e-mail addresses, paths and identifiers."""
    found = []
    for token in words_of(text):
        if len(token) <= max_chars or _URLISH.match(token):  # the first: most words, and never runaway
            continue
        bare = _EDGE_PUNCT.sub("", token)
        if len(bare) > max_chars and not _IDENTIFIER.search(bare):
            found.append(bare)
    return found


@lru_cache(maxsize=4096)
def measured(words: tuple[str, ...]) -> tuple[str, ...]:
    """The words that word statistics count: not bullets and dashes (punctuation alone), not URLs."""
    # a word of letters and digits alone (most words) is neither punctuation nor a URL
    return tuple(w for w in words if w.isalnum() or (_ALNUM.search(w) and not _URLISH.match(w)))


def mean_word_length(words: Sequence[str]) -> float:
    """Mean characters per word, punctuation at a word's edges left out (Gopher)."""
    lengths = [len(w) if w.isalnum() else len(_EDGE_PUNCT.sub("", w)) for w in measured(tuple(words))]
    return sum(lengths) / len(lengths) if lengths else 0.0


def alpha_share(words: Sequence[str]) -> float:
    """Share of words with at least one letter (Gopher); bullets and URLs are not words here."""
    counted = measured(tuple(words))
    return sum(1 for w in counted if w.isalpha() or _LETTERS.search(w)) / len(counted) if counted else 1.0


def top_ngram_share(words: list[str], n: int) -> float:
    """Characters covered by the most frequent word n-gram, over all word characters (Gopher; an
    n-gram seen once counts 0)."""
    total = sum(len(w) for w in words)
    grams = Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
    if not grams or not total:
        return 0.0
    gram, count = grams.most_common(1)[0]
    return sum(len(w) for w in gram) * count / total if count > 1 else 0.0


def duplicate_ngram_share(words: list[str], n: int) -> float:
    """Characters in word n-grams that repeat an earlier one, counted without overlap (Gopher)."""
    total = sum(len(w) for w in words)
    seen: set[tuple[str, ...]] = set()
    repeated = i = 0
    while i < len(words) - n + 1:
        gram = tuple(words[i:i + n])
        if gram in seen:
            repeated += sum(len(w) for w in gram)
            i += n
        else:
            seen.add(gram)
            i += 1
    return repeated / total if total else 0.0


def duplicate_lines(text: str) -> tuple[float, float]:
    """(share of lines that repeat an earlier one, share of characters in them) (Gopher)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        return 0.0, 0.0
    seen: set[str] = set()
    dup = dup_chars = 0
    for line in lines:
        if line in seen:
            dup += 1
            dup_chars += len(line)
        seen.add(line)
    return dup / len(lines), dup_chars / sum(len(line) for line in lines)


def ngrams(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def is_common(word: str) -> bool:
    return word in _common_words()


@cache
def _common_words() -> frozenset[str]:
    from . import STOP_WORDS

    return STOP_WORDS | COMMON_WORDS


@cache
def _normalised_names(names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(normalise(n.replace("_", " ")) for n in (*names, "user", "assistant", "system"))


def placeholder(text: str, names: tuple[str, ...] = ()) -> str | None:
    """What makes ``text`` a placeholder rather than a message, or None."""
    whole = text.strip().strip("\"'`")
    bare = _EDGE_PUNCT.sub("", whole)
    for pattern in _PLACEHOLDER_TURN:
        if pattern.match(bare) or pattern.match(whole):
            return f"the whole turn is a placeholder ({whole[:40]!r})"
    key = normalise(whole.replace("_", " "))
    if key and key in _normalised_names(tuple(names)):
        return f"the whole turn is a role or entity name ({whole[:40]!r})"
    words = bare.split()
    if 1 <= len(words) <= 2 and all(re.fullmatch(r"[A-Z][a-z]+\.?", w) for w in words) \
            and not any(is_common(w.lower().rstrip(".")) for w in words):
        return f"the whole turn is a lone name ({whole[:40]!r})"
    slot = _PLACEHOLDER_SLOT.search(text) or _template_slot(prose(text))
    if slot:
        return f"it holds a placeholder {slot.group(0)!r}"
    return None


def _template_slot(text: str) -> re.Match[str] | None:
    """The first bracket in ``text`` that is a template slot left unfilled: 1 to 5 words, capitalised
    or naming what goes there (``[Adviser's Name]``, ``[Insert date]``, ``<name>``, ``{date}``)."""
    for found in _BRACKETED.finditer(text):
        inner = next(g for g in found.groups() if g is not None)
        words = inner.replace("/", " ").split()
        if not 1 <= len(words) <= 5 or not all(_SLOT_WORD.fullmatch(w) for w in words) \
                or sum(c.isalpha() for c in inner) < 2 or " ".join(words).lower() in _NOT_SLOTS:
            continue
        capitalised = all(w[0].isupper() for w in words if w.lower() not in _SLOT_SMALL)
        identifier = found.group(3) is not None and re.fullmatch(r"[a-z]+(?:_[a-z]+)*", inner)  # {topic}
        if capitalised or identifier or _SLOT_KEYWORDS.search(inner):
            return found
    return None


def readable(record: Any) -> tuple[bool, list[str]]:
    """Whether every non-system turn is readable: 3 words or more, ordinary English words among them,
    no runaway token. Returns (readable, the problems found)."""
    problems = []
    messages = record.messages if hasattr(record, "messages") else record["messages"]
    for i, message in enumerate(messages):
        if message["role"] == "system":
            continue
        text = message["content"]
        words = words_of(text)
        where = f"turn {i} ({message['role']})"
        if len(words) < 3:
            problems.append(f"{where} has {len(words)} word(s)")
        if not any(is_common(w) for w in _WORD.findall(prose(text).lower())):
            problems.append(f"{where} has no ordinary English word")
        runaway = runaway_tokens(text)
        if runaway:
            problems.append(f"{where} has a runaway token {runaway[0][:30]!r}")
    return not problems, problems


# --- the prompt text a turn must not copy -------------------------------------------------------

@cache
def _registered_text() -> tuple[tuple[str, ...], dict[str, Any]]:
    """Instructions and descriptions of every direction the installed plugins register, and their
    output types (a turn must not copy them)."""
    try:
        from janus_core.plugins import load_plugins

        registry = load_plugins().registry
    except Exception:  # a broken plugin is reported by the run itself
        return (), {}
    texts: list[str] = []
    for reg in registry.directions.values():
        texts += [reg.obj.description, *reg.obj.instructions]
    return tuple(texts), {name: reg.obj for name, reg in registry.output_types.items()}


def prompt_texts(spec: Any) -> list[str]:
    """The instruction text behind a spec's records: prompt templates (placeholders left empty),
    direction instructions, free-text directions and the output type's format instructions."""
    from janus_core.sdk.contracts import Limits
    from janus_core.spec.templates import PLACEHOLDERS, render

    setup = spec.setup
    values: dict[str, Any] = dict.fromkeys(PLACEHOLDERS, "")
    values.update(entities=[], user_role=setup.user_role, assistant_role=setup.assistant_role,
                  description=setup.description)
    texts, output_types = _registered_text()
    texts = list(texts)
    for template in (setup.seed_prompt, setup.derivational_prompt):
        with contextlib.suppress(Exception):  # a template error is reported by validate
            texts.append(render(template, **values))
    for d in setup.directions:
        texts += [d.description, d.instruction or ""]
    texts += [f"Style: {name}" for name in (*setup.seed_directions, *setup.derivational_directions)]
    output_type = output_types.get(setup.output_type)
    if output_type is not None:
        for derive in (False, True):
            with contextlib.suppress(Exception):
                texts.append(output_type.output_format(Limits(), derive))
    return [t for t in texts if t]


# --- the filter -----------------------------------------------------------------------------------

class TextQuality(Filter):
    name = "text-quality"
    description = ("unreadable turns (Gopher/C4/FineWeb heuristics): too few words, odd word lengths, few "
                   "alphabetic words, repeated n-grams or lines, runaway tokens, placeholders, copied prompt "
                   "text, echoed instructions, an editor's voice, repeated turns")
    Options: ClassVar[Any] = TextQualityOptions

    def __init__(self) -> None:
        self.names: tuple[str, ...] = ()
        self.prompt_grams: set[tuple[str, ...]] = set()
        self.language_set = False
        self._rules: list[tuple[str, Callable[[str, list[str]], str | None]]] | None = None

    def configure(self, spec: Any, options: Any = None) -> None:
        super().configure(spec, options)
        self.names, self.prompt_grams, self.language_set, self._rules = (), set(), False, None
        if spec is None:
            return
        # the language filter, when configured, decides the language; this rule assumes English
        self.language_set = "language" in spec.setup.filter_options or "language" in (spec.setup.filters or [])
        names = [spec.setup.user_role, spec.setup.assistant_role]
        for entity in spec.diagram.entities.values():
            names += [entity.name, entity.alias or ""]
        self.names = tuple(n for n in names if n)
        n = self.options.prompt_ngram
        for text in prompt_texts(spec):
            self.prompt_grams |= ngrams(normalise(text).split(), n)

    def _message_rules(self) -> list[tuple[str, Callable[[str, list[str]], str | None]]]:
        o = self.options
        return [
            ("placeholder", lambda text, words: placeholder(text, self.names)),
            ("echoed-instruction", _phrase_rule(_ECHOED, "it echoes its instructions")),
            ("editor-voice", _phrase_rule(_EDITOR, "it talks as an editor of a draft")),
            ("runaway-token", self._runaway),
            ("min-words", self._min_words),
            ("max-words", lambda text, words: (f"{len(words)} words, over {o.max_words}"
                                               if len(words) > o.max_words else None)),
            ("english-words", self._english_words),
            ("copies-prompt", self._copies_prompt),
            ("mean-word-length", self._mean_word_length),
            ("alpha-words", self._alpha_words),
            ("repeated-lines", self._repeated_lines),
            ("top-ngram", self._top_ngram),
            ("duplicate-ngram", self._duplicate_ngram),
        ]

    def _min_words(self, text: str, words: list[str]) -> str | None:
        count = len(text.split())  # code counts here: an answer may be a code block alone
        return f"{count} words, under {self.options.min_words}" if count < self.options.min_words else None

    def _english_words(self, text: str, words: list[str]) -> str | None:
        need = self.options.min_common_words
        if not need or not words or self.language_set:
            return None
        common, found = _common_words(), 0
        for match in _WORD.finditer(prose(text).lower()):  # up to the words it needs, not the whole text
            if match.group() in common:
                found += 1
                if found >= need:
                    return None
        return f"{found} common English words, under {need}"

    def _runaway(self, text: str, words: list[str]) -> str | None:
        found = runaway_tokens(text, self.options.max_word_chars)
        if found:
            return f"a word of {len(found[0])} characters, over {self.options.max_word_chars}: {found[0][:30]!r}..."
        return None

    def _copies_prompt(self, text: str, words: list[str]) -> str | None:
        n = self.options.prompt_ngram
        grams = ngrams(normalise(prose(text)).split(), n)
        if not grams or not self.prompt_grams:
            return None
        share = len(grams & self.prompt_grams) / len(grams)
        if share >= self.options.max_prompt_overlap:
            limit = self.options.max_prompt_overlap
            return f"{share:.0%} of its word {n}-grams are in the prompt text (at most {limit:.0%})"
        return None

    def _mean_word_length(self, text: str, words: list[str]) -> str | None:
        o = self.options
        if len(words) < o.stats_min_words:
            return None
        mean = mean_word_length(words)
        if not o.min_mean_word_length <= mean <= o.max_mean_word_length:
            return f"mean word length {mean:.2f}, outside {o.min_mean_word_length:g}..{o.max_mean_word_length:g}"
        return None

    def _alpha_words(self, text: str, words: list[str]) -> str | None:
        o = self.options
        if len(words) < o.stats_min_words:
            return None
        share = alpha_share(words)
        if share < o.min_alpha_words:
            return f"{share:.0%} of words have a letter, under {o.min_alpha_words:.0%}"
        return None

    def _repeated_lines(self, text: str, words: list[str]) -> str | None:
        o = self.options
        lines, chars = duplicate_lines(prose(text))
        if lines > o.max_duplicate_lines:
            return f"{lines:.0%} of its lines are repeated, over {o.max_duplicate_lines:.0%}"
        if chars > o.max_duplicate_line_chars:
            return f"{chars:.0%} of its characters are in repeated lines, over {o.max_duplicate_line_chars:.0%}"
        return None

    def _top_ngram(self, text: str, words: list[str]) -> str | None:
        if len(words) < self.options.ngram_min_words:
            return None
        lowered = [w.lower() for w in words]
        for n, limit in sorted(self.options.max_top_ngram.items()):
            share = top_ngram_share(lowered, n)
            if share > limit:
                return f"the most frequent {n}-gram covers {share:.0%} of its characters, over {limit:.0%}"
        return None

    def _duplicate_ngram(self, text: str, words: list[str]) -> str | None:
        if len(words) < self.options.ngram_min_words:
            return None
        lowered = [w.lower() for w in words]
        for n, limit in sorted(self.options.max_duplicate_ngram.items()):
            share = duplicate_ngram_share(lowered, n)
            if share > limit:
                return f"duplicated {n}-grams cover {share:.0%} of its characters, over {limit:.0%}"
        return None

    def _repeated_turn(self, messages: list[dict[str, str]], new: list[dict[str, str]]) -> str | None:
        earlier = [m for m in messages if m["role"] != "system"]
        fresh = {id(m) for m in new}
        for i, message in enumerate(earlier):
            if id(message) not in fresh:
                continue
            text = normalise(message["content"])
            if not text:
                continue
            for other in earlier[:i]:
                before = normalise(other["content"])
                if text == before:
                    return f"the {message['role']} message repeats an earlier {other['role']} message exactly"
                if len(text.split()) >= 6:
                    from . import similarity

                    score = similarity(text, before, self.options.max_turn_similarity)
                    if score >= self.options.max_turn_similarity:
                        return (f"the {message['role']} message is {score:.0%} like an earlier {other['role']} "
                                f"message (at most {self.options.max_turn_similarity:.0%})")
        return None

    async def check(self, record, parent, ask: Ask) -> str | None:
        from janus_core.sdk.records import new_messages

        skip = self.options.skip
        if self._rules is None:  # the run's rules, once: the options do not change while it runs
            self._rules = [(name, rule) for name, rule in self._message_rules() if name not in skip]
        rules = self._rules
        new = [m for m in new_messages(record, parent) if m["role"] != "system"]
        for message in new:
            text = message["content"]
            words = words_of(text)
            for name, rule in rules:
                found = rule(text, words)
                if found:
                    return f"{name}: the {message['role']} message: {found} ({text[:60]!r})"
        if "repeated-turn" not in skip:
            found = self._repeated_turn(record.messages, new)
            if found:
                return f"repeated-turn: {found}"
        return None
