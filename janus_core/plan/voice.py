"""Whether a turn speaks in its own voice: pure checks the turn generator and the
``scenario-consistency`` filter share.

``voice_problem(text, role, user_role, assistant_role)`` names the first problem it finds, as
``"RULE: what the turn does: 'the words'"``, with RULE one of:

- ``wrong-voice``: the turn speaks as the other side. A user who offers help or greets as the host
  ("How can I assist you today?", "I'm here to help", "Welcome to ...", "Thank you for calling",
  "What can I do for you"); either side introducing itself with the other's role ("I'm Emily, the
  librarian" from the user, "As the counselee, I ..." from the assistant) or greeting its own role
  ("Hi new tenant, ..." from the tenant); the assistant speaking of the user's things as its own
  ("my pet", for things only the user's role relates to in the diagram: ``user_things``).
- ``narration``: third-person stage directions rather than a message: a sentence opening with
  "The <someone> smiles / looks up / said, ..." or an action in parentheses or asterisks
  ("(smirking)", "*smiles*").
- ``speaker-label``: a line or sentence opening with a speaker's label ("A: ...", "Librarian: ...",
  "Lady Haggelstormy: ...", "Member: I'd like ..."), or lines labelled with both roles (a script).
  Labels normal in answers ("Note:", "Step 1:", "Opening hours:", times such as 8:30) pass.

``introduced_names(text)`` lists the first names a turn gives itself ("I'm Emily"), for the
filter's check that the two sides do not take the same name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

#: the rules, in the order they are checked
VOICE_RULES = ("wrong-voice", "narration", "speaker-label")

#: stage actions, in the forms narration uses (third person, past, -ing): "(smirking)", "*smiles*"
_ACTIONS = """
smiles smiled smiling smirks smirked smirking grins grinned grinning chuckles chuckled chuckling laughs
laughed laughing giggles giggled giggling nods nodded nodding sighs sighed sighing shrugs shrugged shrugging
winks winked winking frowns frowned frowning beams beamed beaming blinks blinked blinking pauses paused
pausing leans leaned leaning glances glanced glancing gestures gestured gesturing whispers whispered
whispering mutters muttered muttering scoffs scoffed scoffing gasps gasped gasping coughs coughed coughing
waving pointing typing peers peered peering sips sipped sipping
""".split()
#: what narration has "The <someone>" do (not what a pet, a light or a loan does: coughs, blinks, pauses)
_NARRATED = (r"(?:smiles|smiled|grins|grinned|nods|nodded|sighs|sighed|shrugs|shrugged|winks|winked|frowns|frowned"
             r"|beams|beamed|chuckles|chuckled|laughs|laughed|giggles|giggled|smirks|smirked|glances|glanced"
             r"|gestures|gestured|whispers|whispered|mutters|muttered|scoffs|scoffed|leans|leaned|peers|peered)\b"
             r"|(?:looks|looked) up\b(?! (?:your|the|a|an|their|his|her|my)\b)"
             r"|(?:turns|turned) to (?:you|face|the)\b|(?:hands|handed) (?:you|over)\b"
             r"|(?:clears|cleared) (?:his|her|their) throat|(?:takes|took) a (?:deep |long )?breath\b"
             r"|(?:raises|raised) (?:an|her|his|their) eyebrow")
#: what narration has someone say: "The librarian says, ...", "The library member asks: ..."
_SAYS = (r"(?:says|said|replies|replied|asks|asked|answers|answered|responds|responded|continues|continued"
         r"|adds|added|explains|explained|exclaims|exclaimed|writes|wrote)\s*[,:]")
#: where a sentence opens: a line's start or after a sentence's end
_OPENS = r"(?:^|[.!?][\"”’']?\s+)"
_NARRATION = re.compile(rf"{_OPENS}(The (?:[\w'-]+ ){{1,3}}?(?:{_NARRATED}))", re.M)
_ACTION = re.compile(
    r"[(*\[]\s*(?:(?:the|a|an) [a-z' -]{1,30}? |he |she |they )?(?:[a-z]+ly )?"
    rf"(?:{'|'.join(_ACTIONS)}|clear(?:s|ing) (?:\w+ )?throat)\b[^()*\[\]\n]{{0,60}}[)*\]]", re.I)

#: the host's lines: offering help, welcoming, thanking for the call
_HOST = re.compile(
    r"\bhow (?:can|may|might|could) I (?:help you|assist(?: you\b|\s*[?.!,])|serve you"
    r"|be of (?:any )?(?:help|assistance|service))"
    r"|\bwhat can I do for you\b|\bis there anything (?:else )?I can (?:help|assist|do for)"
    r"|\blet me know how I can (?:help|assist)\b|\bI(?:'m| am) here to (?:help|assist)\b"
    r"|\b(?:happy|glad|pleased|delighted|ready|love|like) to (?:assist|help you)\b"
    r"|\b(?:assist|help) (?:you )?with your (?:needs|request|inquiry|enquiry)\b"
    r"|\bglad you(?:'ve| have)? reached out\b"
    r"|(?:^|[.!?,:;]\s*)welcome (?:back )?to\b"
    r"|\bthank(?:s| you) for (?:calling|contacting|choosing|visiting|reaching out|getting in touch|stopping by"
    r"|coming in)\b(?!\s+(?:me|back|to me)\b)", re.I | re.M)

#: label words normal at the start of a line in an answer, whatever follows them
_ALLOWED_LABELS = frozenset("""
note notes tip tips example examples warning important reminder remember hint caution update summary step
option ps p.s source bonus yes no why result goal answer question important total price cost fee fees
address phone email hours date time location contact website deadline monday tuesday wednesday thursday
friday saturday sunday today tomorrow tonight weekdays weekends morning afternoon evening first second
third next then finally also however alternatively dear here here's this that that's so but and or because
""".split())
#: words that make a label a speaker's ("Library Member:", "Pet Owner:"), besides the roles' own
_SPEAKERS = frozenset("""
user assistant customer client patient member librarian nurse doctor vet receptionist agent staff caller
visitor guest host owner tenant landlord human ai bot narrator speaker interviewer interviewee teacher
student counselor counsellor therapist pharmacist manager clerk advisor adviser
""".split())
#: a label of one letter ("A:", "Q:") is a speaker's
_LETTERS = frozenset("abq")
_TITLE = re.compile(r"(?:lady|lord|sir|dame|mr|mrs|ms|miss|dr|doctor|professor|prof|officer|captain|madam)\.? [A-Z]",
                    re.I)
_LABEL = re.compile(
    r"(?:^|(?<=[.!?])[\"”’']?[ \t]+)[ \t]*(?:\*\*|__)?\[?((?:Mrs?|Ms|Dr|Prof)\.? [A-Z][\w'-]*|[A-Za-z][\w'-]*"
    r"(?: [A-Za-z][\w'-]*){0,2}?)\]?"
    r"(?:\*\*|__)?[ \t]*:(?:\*\*|__)?[ \t]*(\S.{0,20})?", re.M)
#: what a speaker's line opens with
_SPEECH = re.compile(r"(?:I(?:'m|'ve|'d|'ll| am| have| would| will|\s)|Hi\b|Hello|Hey\b|Good (?:morning|afternoon|"
                     r"evening)|Yes,|No,|Oh\b|Ah\b|Well,|Sure\b|Of course|Thank|Sorry|Excuse me|Um\b|Uh\b|Dear\b"
                     r"|Welcome|[\"“])")
_INTRO_NAME = re.compile(r"\b(?:I'm|I am|(?i:my name is|my name's|call me))\s+([A-Z][a-z]{1,20})\b(?!'s)")
_NOT_NAMES = frozenset("sorry so glad happy here afraid not just the a an very really also still only new "
                       "calling writing looking trying".split())


def _plain(name: str) -> list[str]:
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name.replace("_", " ").replace("-", " "))
    return spaced.lower().split()


def _phrase(name: str) -> str:
    return r"[\s_-]+".join(re.escape(w) for w in _plain(name))


def _alternatives(names: Iterable[str]) -> str:
    return "|".join(dict.fromkeys(_phrase(n) for n in names if _plain(n)))


def _heads(names: Iterable[str], own: Iterable[str]) -> str:
    """The last word of each multi-word name ("counselor" of MARRIAGE_COUNSELOR), unless a word of
    the speaker's own role (a SENIOR_NURSE may call herself a nurse when the other is a VET_NURSE)."""
    mine = {w for n in own for w in _plain(n)}
    heads = (_plain(n)[-1] for n in names if len(_plain(n)) > 1)
    return "|".join(dict.fromkeys(re.escape(h) for h in heads if h not in mine))


class _Voice:
    """The compiled checks for one pair of roles (cached: a run asks for the same pair every turn)."""

    def __init__(self, user: tuple[str, ...], assistant: tuple[str, ...], things: tuple[str, ...]):
        sides = {"user": (user, (*assistant, "AI assistant", "AI language model")), "assistant": (assistant, user)}
        self.claims: dict[str, re.Pattern[str]] = {}
        self.greets: dict[str, re.Pattern[str]] = {}
        for role, (own, other) in sides.items():
            full, head = _alternatives(other), _heads(other, own)
            who = rf"(?:the|your|a|an|one of the)\s+(?:[\w-]+\s+){{0,2}}?(?:{full})"
            if head:
                who += rf"|(?:the|your)\s+(?:{head})"
            # "I'm the librarian", "I'm Emily, the librarian", "As a member, I ..."
            self.claims[role] = re.compile(
                rf"\b(?:I(?:'m| am)\s+(?-i:[A-Z][a-z]+,\s+)?(?:{who})|as (?:{who}),?\s+I)\b(?!\s+of\b|['’]s\b)",
                re.I)
            # "Hi new tenant, ..." from the tenant: calling out to its own role
            self.greets[role] = re.compile(
                rf"^\W*(?:hi|hello|hey|dear|greetings|good (?:morning|afternoon|evening)),?\s+(?:\w+\s+){{0,2}}?"
                rf"(?:{_alternatives(own)})\s*[,!.:]", re.I)
        words = {" ".join(_plain(n)) for n in (*user, *assistant)} | {_plain(n)[-1] for n in (*user, *assistant)}
        self.speakers = _SPEAKERS | words
        people = "|".join(re.escape(w) for w in sorted(self.speakers, key=len, reverse=True))
        self.says = re.compile(rf"{_OPENS}(The (?:[\w'-]+ ){{0,2}}?(?:{people})s? {_SAYS})", re.M | re.I)
        owned = _alternatives(things)
        self.mine = re.compile(rf"\bmy\s+(?!own\b)(?:[\w-]+\s+)?(?:{owned})s?\b(?!\s+(?:system|records?|notes?|"
                               rf"list|desk|screen|team|colleagues?)\b)", re.I) if owned else None
        script = _alternatives({*user, *assistant, "user", "assistant"})
        self.script = re.compile(rf"(?mi)^\W{{0,3}}({script})\W{{0,3}}:")

    def problem(self, text: str, role: str, skip: Iterable[str] = ()) -> str | None:
        checks = {"wrong-voice": self._wrong_voice, "narration": self._narration,
                  "speaker-label": self._speaker_label}
        for name, check in checks.items():
            found = None if name in skip else check(text, role)
            if found:
                return found
        return None

    def _wrong_voice(self, text: str, role: str) -> str | None:
        if role == "user":
            found = _HOST.search(text)
            if found:
                return f"wrong-voice: offers help as the host: {_shown(found.group(0))}"
        found = self.claims[role].search(text)
        if found:
            return f"wrong-voice: speaks as the other side: {_shown(found.group(0))}"
        found = self.greets[role].search(text)
        if found:
            return f"wrong-voice: greets its own role: {_shown(found.group(0))}"
        if role == "assistant" and self.mine:
            found = self.mine.search(text)
            if found:
                return f"wrong-voice: speaks of the user's things as its own: {_shown(found.group(0))}"
        return None

    def _narration(self, text: str, role: str) -> str | None:
        found = _NARRATION.search(text) or self.says.search(text)
        if found:
            return f"narration: narrates in the third person: {_shown(found.group(1))}"
        found = _ACTION.search(text)
        if found:
            return f"narration: holds a stage direction: {_shown(found.group(0))}"
        return None

    def _speaker_label(self, text: str, role: str) -> str | None:
        for found in _LABEL.finditer(text):
            label, after = found.group(1), found.group(2) or ""
            words = label.lower().rstrip(".").split()
            if words[0] in _ALLOWED_LABELS:
                continue
            person = " ".join(words) in self.speakers or words[-1] in self.speakers
            said = after[:1].isupper() or after[:1] in "\"“"  # a glossary line goes on in lower case
            if label.lower() in _LETTERS or _TITLE.match(label) or (person and said) \
                    or (label.istitle() and _SPEECH.match(after)):
                return f"speaker-label: opens a line with a speaker's label: {_shown(found.group(0))}"
        labels = {m.group(1).lower().replace("_", " ") for m in self.script.finditer(text)}
        if len(labels) >= 2:  # lines labelled with two speakers: a dialogue written as one turn
            return f"speaker-label: holds a script of {' and '.join(sorted(labels))} lines"
        return None


def _shown(words: str) -> str:
    return repr(" ".join(words.split())[:60])


@lru_cache(maxsize=64)
def _voice(user: tuple[str, ...], assistant: tuple[str, ...], things: tuple[str, ...]) -> _Voice:
    return _Voice(user, assistant, things)


def voice_problem(text: str, role: str, user_role: str, assistant_role: str, *,
                  user_aliases: Sequence[str] = (), assistant_aliases: Sequence[str] = (),
                  user_things: Sequence[str] = (), skip: Iterable[str] = ()) -> str | None:
    """Why ``text``, a ``role`` ("user" or "assistant") turn, is not in that role's voice, as
    ``"RULE: reason: 'words'"`` (RULE: one of ``VOICE_RULES``); None when it is.
    ``user_aliases`` and ``assistant_aliases`` are other names of the roles (diagram aliases);
    ``user_things`` are what only the user's role has (``user_things(diagram, ...)``); ``skip``
    names rules not to apply."""
    if role not in ("user", "assistant"):
        return None
    voice = _voice(tuple(n for n in (user_role, *user_aliases) if n),
                   tuple(n for n in (assistant_role, *assistant_aliases) if n), tuple(user_things))
    return voice.problem(text.replace("’", "'"), role, frozenset(skip))


def user_things(diagram: Any, user_role: str, assistant_role: str) -> tuple[str, ...]:
    """Entities the diagram relates to the user's role and not to the assistant's (PET_OWNER owns
    PET): things the user may call "my ..." and the assistant may not."""
    def related(role: str) -> set[str]:
        found = set()
        for r in diagram.relationships:
            if role in (r.left, r.right):
                found.add(r.right if r.left == role else r.left)
        return found

    return tuple(sorted(related(user_role) - related(assistant_role) - {user_role, assistant_role}))


def introduced_names(text: str) -> list[str]:
    """The first names a turn gives itself ("I'm Emily", "my name is Joe")."""
    found = _INTRO_NAME.finditer(text.replace("’", "'"))
    return [m.group(1) for m in found if m.group(1).lower() not in _NOT_NAMES]
