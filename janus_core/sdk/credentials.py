"""API keys and tokens: where they come from, and keeping them out of everything Janus writes.

Keys come from environment variables only. Every secret value Janus loads (a backend's key, the
Hub token) joins one process-wide set, and ``scrub`` masks each of them (in the encodings a server
may echo it in: see ``secret_forms``), plus any ``Bearer`` token, in text that leaves Janus: error
messages, stderr, the failure ledger, the run summary, the report, the dataset card and the review
page's API; a reply that holds one is no record (``run.reply_secrets``). Values of well-known key
variables (and of any variable named like ``*_API_KEY``/``*_TOKEN``/``*_SECRET``) are masked too,
even before a backend reads them, so an old ledger shown by ``janus review`` is masked as well.
``redact_command`` masks a command line's credentials for the run's lock file.

Keys are never options: a name like ``api_key``, ``token`` or ``secret`` on the command line
(``--option``) or anywhere in setup.yaml is refused with the variable to use instead.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Iterable, Mapping
from itertools import pairwise
from typing import Any, TextIO

from janus_core.sdk.secret_forms import MASK, SecretFinder

#: Shorter values are never masked (they would mask ordinary words).
MIN_SECRET = 6

#: The usual key variables per provider, by litellm's model prefix (``anthropic/claude-...``);
#: the built-in openai and gemini backends read the same ones.
PROVIDER_KEYS: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY",),
    "text-completion-openai": ("OPENAI_API_KEY",),
    "azure": ("AZURE_API_KEY", "AZURE_OPENAI_API_KEY"),
    "azure_ai": ("AZURE_AI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    "groq": ("GROQ_API_KEY",),
    "mistral": ("MISTRAL_API_KEY",),
    "codestral": ("CODESTRAL_API_KEY",),
    "together_ai": ("TOGETHERAI_API_KEY", "TOGETHER_API_KEY", "TOGETHER_AI_TOKEN"),
    "deepseek": ("DEEPSEEK_API_KEY",),
    "openrouter": ("OPENROUTER_API_KEY", "OR_API_KEY"),
    "cohere": ("COHERE_API_KEY", "CO_API_KEY"),
    "cohere_chat": ("COHERE_API_KEY", "CO_API_KEY"),
    "fireworks_ai": ("FIREWORKS_AI_API_KEY", "FIREWORKS_API_KEY"),
    "perplexity": ("PERPLEXITYAI_API_KEY", "PERPLEXITY_API_KEY"),
    "xai": ("XAI_API_KEY",),
    "cerebras": ("CEREBRAS_API_KEY",),
    "deepinfra": ("DEEPINFRA_API_KEY",),
    "nvidia_nim": ("NVIDIA_NIM_API_KEY",),
    "huggingface": ("HF_TOKEN", "HUGGINGFACE_API_KEY"),
    "replicate": ("REPLICATE_API_KEY", "REPLICATE_API_TOKEN"),
    "ai21": ("AI21_API_KEY",),
    "voyage": ("VOYAGE_API_KEY",),
    "sambanova": ("SAMBANOVA_API_KEY",),
    "litellm_proxy": ("LITELLM_PROXY_API_KEY",),
}
#: Variables whose values are masked although no backend reads them as its key.
OTHER_SECRETS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AZURE_AD_TOKEN", "VERTEXAI_CREDENTIALS")

#: Words that make a field name a secret's (compared word by word: ``api_key``, ``accessToken``).
_SECRET_WORDS = frozenset({"key", "apikey", "token", "secret", "secrets", "password", "passwd", "credential",
                           "credentials", "auth", "authorization", "bearer", "cookie"})
#: Words before ``key`` that make it a data key, not a credential (``primary_key``, ``sort_key``).
_PLAIN_KEYS = frozenset({"primary", "foreign", "unique", "sort", "group", "partition", "join", "dedup", "cache",
                         "hash", "shard", "index", "row", "column", "record", "lookup", "map", "dict", "json"})
#: A secret-looking environment variable name.
_SECRET_ENV = re.compile(r"(?:^|_)(?:KEY|TOKEN|SECRET|PASSWORD|CREDENTIALS)$")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BEARER = re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{6,}")

_lock = threading.Lock()
_loaded: set[str] = set()
_built: SecretFinder | None = None
_environment_read = False


# --- the process-wide set of secrets -------------------------------------------------------------

def remember(value: str | None) -> None:
    """Add a secret value to the set ``scrub`` masks (values shorter than MIN_SECRET are ignored)."""
    global _built
    if not value or len(value.strip()) < MIN_SECRET:
        return
    with _lock:
        for v in {value, value.strip()}:
            if v not in _loaded:
                _loaded.add(v)
                _built = None


def _environment() -> None:
    """Remember the values of every well-known or secret-named environment variable, once."""
    global _environment_read
    if _environment_read:
        return
    _environment_read = True
    names = {n for names in PROVIDER_KEYS.values() for n in names} | set(OTHER_SECRETS)
    names |= {n for n in os.environ if _SECRET_ENV.search(n.upper())}
    for name in names:
        remember(os.environ.get(name))


def loaded() -> frozenset[str]:
    """Every secret value known so far (for tests and checks; never print it)."""
    _environment()
    return frozenset(_loaded)


def _finder() -> SecretFinder | None:
    """The finder for the secrets loaded so far (built again when one is added)."""
    global _built
    _environment()
    finder = _built
    if finder is None and _loaded:
        with _lock:
            finder = _built = SecretFinder(_loaded)
    return finder


def holds_secret(text: str) -> bool:
    """Whether ``text`` holds a loaded secret in any of the encodings ``scrub`` masks."""
    finder = _finder()
    return bool(isinstance(text, str) and text and finder is not None and finder.found(text))


def scrub(text: str) -> str:
    """``text`` with every secret value loaded (as is, in any letter case, hex, base64 or
    percent-encoded, spaced out or split across lines), and any ``Bearer`` token, masked."""
    if not isinstance(text, str) or not text:
        return text
    finder = _finder()
    if finder is not None:
        text = finder.mask(text)
    return _BEARER.sub(r"\1" + MASK, text) if "bearer" in text.lower() else text


def scrub_data(data: Any) -> Any:
    """A JSON-like value with every string in it scrubbed."""
    if isinstance(data, str):
        return scrub(data)
    if isinstance(data, Mapping):
        return {scrub_data(k): scrub_data(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [scrub_data(v) for v in data]
    return data


# --- command lines ---------------------------------------------------------------------------

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")
_PAIR = re.compile(r"(^|[&;])([^=&;]*)=([^&;]+)")
#: Keys with a provider's well-known prefix.
_PREFIXED_KEY = re.compile(r"(?<![A-Za-z0-9])(?:sk-|sk_|pk_|rk_|hf_|gh[opusr]_|github_pat_|glpat-|xox[abposr]-|AIza|"
                           r"AKIA|ASIA|ya29\.)[A-Za-z0-9_.\-]{8,}")
_LONG_WORD = re.compile(r"[A-Za-z0-9_\-+=]{24,}")


def _key_like(word: str) -> bool:
    """Whether a long run of characters looks like a generated key (32+ hex digits, or lower case,
    upper case and digits mixed as at random) rather than words or a file name (``RunFinal2024``)."""
    bare = word.strip("=-_")
    if len(bare) >= 32 and re.fullmatch(r"[0-9a-fA-F]+", bare):
        return True
    kinds = ["d" if c.isdigit() else "u" if c.isupper() else "l" if c.islower() else "o" for c in bare]
    changes = sum(a != b for a, b in pairwise(kinds))
    return {"d", "u", "l"} <= set(kinds) and changes >= 0.3 * len(bare)  # random base62: about 0.6


def _redact_url(match: re.Match[str]) -> str:
    """A URL with its userinfo, and the values of its query string and fragment, masked."""
    url = match.group(0)
    scheme, rest = url.split("://", 1)
    cut = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    netloc, tail = rest[:cut], rest[cut:]
    if "@" in netloc:
        netloc = MASK + "@" + netloc.rsplit("@", 1)[1]
    path, mark, query = tail.partition("?")
    if not mark:
        path, mark, query = tail.partition("#")
    return f"{scheme}://{netloc}{path}{mark}{_PAIR.sub(lambda m: f'{m[1]}{m[2]}={MASK}', query)}"


def redact_command(argv: Iterable[str]) -> str:
    """A command line fit to store: secrets loaded, URL credentials (userinfo, query and fragment
    values), the values of options named like keys, and anything that looks like a key, masked."""
    words: list[str] = []
    secret_next = False
    for word in argv:
        word = str(word)
        if secret_next:
            word, secret_next = MASK, False
        elif word.startswith("-") and "=" not in word and is_secret_name(word):
            secret_next = True
        name, eq, value = word.partition("=")
        if eq and value and "://" not in name and is_secret_name(name):
            word = f"{name}={MASK}"
        word = _URL.sub(_redact_url, scrub(word))
        word = _PREFIXED_KEY.sub(MASK, word)
        word = _LONG_WORD.sub(lambda m: MASK if _key_like(m[0]) else m[0], word)
        words.append(word)
    return " ".join(words)


# --- reading keys --------------------------------------------------------------------------------

def read_key(names: Iterable[str]) -> tuple[str | None, str | None]:
    """The first set variable of ``names``: (its name, its value), remembered for ``scrub``."""
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            remember(value)
            return name, value
    return None, None


def provider_of(model: str | None) -> str:
    """litellm's provider prefix of a model name (``anthropic/claude-x`` -> ``anthropic``)."""
    return model.split("/", 1)[0].lower() if model and "/" in model else ""


def provider_key_names(model: str | None, default: str = "openai") -> tuple[str, ...]:
    """The variables litellm reads for a model's provider: the usual ones, else PROVIDER_API_KEY."""
    provider = provider_of(model) or default
    known = PROVIDER_KEYS.get(provider)
    if known:
        return known
    return (re.sub(r"[^A-Za-z0-9]", "_", provider).upper() + "_API_KEY",)


def check_env_name(name: Any, backend: str) -> str:
    """An ``api_key_env`` option's value: a variable name (a pasted key is refused unshown)."""
    from janus_core.sdk.errors import BackendError

    if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
        raise BackendError(f"{backend} backend: api_key_env names the environment variable that holds the key "
                           "(such as MY_PROVIDER_KEY), not the key itself")
    return name


# --- keys where they must never be ---------------------------------------------------------------

def is_secret_name(name: Any) -> bool:
    """Whether a field name looks like it holds a key, token, password or secret.

    ``api_key_env``-style names (ending in ``_env``) name a variable, so they are allowed.
    """
    if not isinstance(name, str):
        return False
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    words = [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]
    if not words or words[-1] in ("env", "var", "variable"):
        return False
    return any(w in _SECRET_WORDS and not (w == "key" and i and words[i - 1] in _PLAIN_KEYS)
               for i, w in enumerate(words)) or "apikey" in "".join(words)


def use_instead(env_names: Iterable[str]) -> str:
    """How to give a key instead: 'set the environment variable OPENAI_API_KEY (export ...)'."""
    names = list(dict.fromkeys(env_names))
    if not names:
        return ("keys come from environment variables only (OPENAI_API_KEY for openai, GEMINI_API_KEY for gemini, "
                "the provider's usual one for litellm, or one named by the api_key_env option)")
    also = f" (also read: {', '.join(names[1:])})" if len(names) > 1 else ""
    return f"set the environment variable {names[0]} instead: export {names[0]}=...{also}"


def secret_options(options: Mapping[str, Any]) -> list[str]:
    """Names of options that look like keys."""
    return [name for name in options if is_secret_name(name)]


def key_field_problems(keys: Mapping[tuple, tuple[int, int]], data: Any, path: str,
                       backends: Mapping[str, Any]) -> list[Any]:
    """Problems for every setup.yaml field named like a key, at its line and column.

    ``keys`` maps each field's path to its position; ``data`` is the parsed file (for the model's
    backend and name); ``backends`` maps backend names to classes, to name the variable to use."""
    from janus_core.sdk.errors import Problem

    found = [(p, at) for p, at in keys.items() if is_secret_name(p[-1])]
    if not found:
        return []
    model = data.get("model") if isinstance(data, dict) else None
    model = model if isinstance(model, dict) else {}
    backend = backends.get(str(model.get("backend") or ""))
    names: tuple[str, ...] = ()
    if backend is not None:
        try:
            names = backend.key_env_names(model.get("name"), {})
        except Exception:  # a plugin's own lookup failing must not hide the refusal
            names = backend.key_env
    hint = use_instead(names)
    return [Problem(path, line, col, f"'{'.'.join(map(str, p))}' looks like a key, token or secret: a spec is "
                    "shared and published, so it never holds one", hint) for p, (line, col) in found]


# --- output streams ------------------------------------------------------------------------------

class ScrubbedStream:
    """A text stream that masks secrets in everything written through it (stdout, stderr)."""

    def __init__(self, stream: TextIO):
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(scrub(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def scrub_streams() -> None:
    """Wrap sys.stdout and sys.stderr so that nothing printed, logged or raised shows a secret."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, ScrubbedStream):
            setattr(sys, name, ScrubbedStream(stream))
