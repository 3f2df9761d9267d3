"""Several conversations decoded together: llama.cpp sequences in one context.

On a CPU a decoding step reads every weight of the model once, whatever the number of tokens in
the step, so decoding the next token of N conversations in one batch costs little more than one.
``SequenceBatcher`` owns one llama.cpp context with ``n_seq_max`` sequences, each with its own
key-value stream (``kv_unified`` off: a sequence attends over its own cells only, never padding
from others) and its own sampler chain seeded by its request. A thread runs the steps: prompts
are read in (several at once), then one token per live sequence per step; a finished sequence
frees its slot for the next request, keeping its cells: the next request whose prompt begins
with the same tokens (a conversation's next turn) takes that slot and reads in only the rest.

What holds: a request's sampling depends only on its own logits and seed. The logits themselves
come from matrix products whose summation order llama.cpp may choose by the number of tokens in
the step, so a conversation decoded beside others can, rarely, differ in the last bits of a logit
from the same one decoded alone; the tests check the texts are the same for the bundled model on
the bundled samples (``tests/test_local_batching.py``). Written by hand on llama-cpp-python's
low-level API: its high-level ``Llama`` decodes one sequence at a time and its server serves one
request at a time.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

#: tokens a step holds at most (prompts are read in chunks of this many)
STEP_TOKENS = 512
#: tokens the repetition penalty looks back over (llama-cpp-python's ``last_n_tokens_size``)
PENALTY_LAST_N = 64


@dataclass
class TextRequest:
    """One plain-text generation: a prompt already tokenized and how to sample its reply."""

    tokens: list[int]
    max_tokens: int
    temperature: float
    seed: int
    top_p: float = 0.9
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.0


@dataclass
class TextReply:
    text: str
    finish_reason: str
    tokens_in: int
    tokens_out: int
    #: prompt tokens whose cells a sequence kept from an earlier request (not read in again)
    tokens_reused: int = 0


@dataclass
class _Slot:
    seq: int
    request: TextRequest
    future: Future
    sampler: Any
    fed: int = 0  # prompt tokens read in so far
    reused: int = 0  # of which kept from the sequence's last request
    out: list[int] = field(default_factory=list)
    pieces: list[bytes] = field(default_factory=list)


def _common_prefix(a: list[int], b: list[int], most: int) -> int:
    n = min(len(a), len(b), most)
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class LoadedModel:
    """A GGUF model loaded once (weights mapped, no context) with its tokenizer and chat template."""

    def __init__(self, path: str):
        import llama_cpp

        self._ll = llama_cpp
        # llama.cpp's notes go through this logger (as Llama(verbose=False) sets it): errors only
        logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)
        llama_cpp.llama_backend_init()
        params = llama_cpp.llama_model_default_params()
        self.model = llama_cpp.llama_model_load_from_file(path.encode("utf-8"), params)
        if not self.model:
            raise RuntimeError(f"llama.cpp could not load {path}")
        self.vocab = llama_cpp.llama_model_get_vocab(self.model)
        self._formatter: Any = None

    def _text(self, token: int) -> str:
        return self._ll.llama_vocab_get_text(self.vocab, token).decode("utf-8", errors="ignore")

    def metadata(self, key: str) -> str | None:
        buf = ctypes.create_string_buffer(1 << 16)
        n = self._ll.llama_model_meta_val_str(self.model, key.encode("utf-8"), buf, len(buf))
        return buf.value.decode("utf-8", errors="ignore") if n >= 0 else None

    def tokenize(self, text: str, add_special: bool) -> list[int]:
        data = text.encode("utf-8")
        room = len(data) + 8
        tokens = (self._ll.llama_token * room)()
        n = self._ll.llama_tokenize(self.vocab, data, len(data), tokens, room, add_special, True)
        if n < 0:
            raise ValueError("the prompt could not be tokenized")
        return list(tokens[:n])

    def chat_tokens(self, messages: list[dict[str, Any]]) -> list[int]:
        """The prompt tokens of a chat, as llama-cpp-python's chat handler makes them from the GGUF's
        own template (generation prompt added)."""
        if self._formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            template = self.metadata("tokenizer.chat_template")
            if not template:
                raise ValueError("the model has no chat template")
            ll = self._ll
            self._formatter = Jinja2ChatFormatter(template=template,
                                                  eos_token=self._text(ll.llama_vocab_eos(self.vocab)),
                                                  bos_token=self._text(ll.llama_vocab_bos(self.vocab)))
        result = self._formatter(messages=messages)
        return self.tokenize(result.prompt, add_special=not result.added_special)

    def close(self) -> None:
        if self.model:
            self._ll.llama_model_free(self.model)
            self.model = None


class SequenceBatcher:
    """Decodes up to ``sequences`` requests together on one llama.cpp context of ``model``.

    ``submit(request)`` returns a ``concurrent.futures.Future`` of a ``TextReply``; ``close()``
    stops the thread (requests still waiting get an error) and frees the context."""

    def __init__(self, model: Any, sequences: int, seq_ctx: int, threads: int):
        import llama_cpp

        self._ll = llama_cpp
        self.sequences = sequences
        self.seq_ctx = seq_ctx
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = seq_ctx * sequences
        params.n_batch = params.n_ubatch = STEP_TOKENS
        params.n_seq_max = sequences
        params.n_threads = params.n_threads_batch = threads
        params.kv_unified = False
        self._model = model
        self._ctx = llama_cpp.llama_init_from_model(model, params)
        if not self._ctx:
            raise RuntimeError("llama.cpp could not make a context for the batched sequences")
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self._vocab = llama_cpp.llama_model_get_vocab(model)
        self._n_vocab = llama_cpp.llama_vocab_n_tokens(self._vocab)
        self._batch = llama_cpp.llama_batch_init(STEP_TOKENS, 0, 1)
        self._waiting: deque[tuple[TextRequest, Future]] = deque()
        self._free = list(range(sequences))
        #: per sequence, the tokens whose key-value cells it still holds from its last request
        self._kept: dict[int, list[int]] = {seq: [] for seq in range(sequences)}
        self._live: list[_Slot] = []
        self._cond = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="janus-llama-batch", daemon=True)
        self._thread.start()

    def submit(self, request: TextRequest) -> Future:
        future: Future = Future()
        if len(request.tokens) + request.max_tokens > self.seq_ctx:
            future.set_exception(ValueError(
                f"the prompt ({len(request.tokens)} tokens) and its reply ({request.max_tokens}) do not fit a "
                f"sequence's context of {self.seq_ctx} tokens"))
            return future
        with self._cond:
            if self._closing:
                raise RuntimeError("the batcher is closed")
            self._waiting.append((request, future))
            self._cond.notify()
        return future

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join()
        ll = self._ll
        ll.llama_batch_free(self._batch)
        ll.llama_free(self._ctx)

    # -- the decoding thread ------------------------------------------------------------------

    def _sampler(self, r: TextRequest) -> Any:
        ll = self._ll
        chain = ll.llama_sampler_chain_init(ll.llama_sampler_chain_default_params())
        add: Callable[[Any], None] = lambda s: ll.llama_sampler_chain_add(chain, s)  # noqa: E731
        add(ll.llama_sampler_init_penalties(self._n_vocab, PENALTY_LAST_N, r.repeat_penalty, 0.0, 0.0))
        if r.temperature <= 0:
            add(ll.llama_sampler_init_greedy())
        else:
            add(ll.llama_sampler_init_top_k(r.top_k))
            add(ll.llama_sampler_init_top_p(r.top_p, 1))
            add(ll.llama_sampler_init_min_p(r.min_p, 1))
            add(ll.llama_sampler_init_temp(r.temperature))
            add(ll.llama_sampler_init_dist(r.seed & 0xFFFFFFFF))
        return chain

    def _admit(self) -> None:
        """Give waiting requests the free sequences, each the one whose kept tokens share the
        longest prefix with its prompt (turn-by-turn requests extend the previous turn's), whose
        key-value cells are kept up to there and not read in again."""
        ll = self._ll
        while self._waiting and self._free:
            request, future = self._waiting.popleft()
            if not future.set_running_or_notify_cancel():
                continue
            tokens = request.tokens
            seq, common = max(((seq, _common_prefix(self._kept[seq], tokens, len(tokens) - 1)) for seq in self._free),
                              key=lambda pair: pair[1])
            self._free.remove(seq)
            ll.llama_memory_seq_rm(self._memory, seq, common, -1)
            self._kept[seq] = []
            self._live.append(_Slot(seq, request, future, self._sampler(request), fed=common, reused=common))

    def _release(self, slot: _Slot, reply: TextReply | None, error: BaseException | None = None) -> None:
        ll = self._ll
        if reply is None:
            ll.llama_memory_seq_rm(self._memory, slot.seq, -1, -1)
        else:  # the cells read in: the prompt and every reply token fed back (not a last one cut by length)
            fed = slot.out if reply.finish_reason == "stop" else slot.out[:-1]
            self._kept[slot.seq] = slot.request.tokens + fed
        ll.llama_sampler_free(slot.sampler)
        self._live.remove(slot)
        self._free.append(slot.seq)
        if error is not None:
            slot.future.set_exception(error)
        else:
            slot.future.set_result(reply)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closing and not self._waiting and not self._live:
                    self._cond.wait()
                if self._closing:
                    for _request, future in self._waiting:
                        if future.set_running_or_notify_cancel():
                            future.set_exception(RuntimeError("the local model was closed"))
                    self._waiting.clear()
                    for slot in list(self._live):
                        self._release(slot, None, RuntimeError("the local model was closed"))
                    return
                self._admit()
            try:
                self._step()
            except BaseException as exc:  # a failed step fails its requests, not the thread
                for slot in list(self._live):
                    self._release(slot, None, exc)

    def _step(self) -> None:
        ll = self._ll
        batch = self._batch
        n = 0
        sampled: list[tuple[_Slot, int]] = []
        # decoding sequences first (one token each), then prompt chunks in the room left
        for slot in sorted(self._live, key=lambda s: s.fed < len(s.request.tokens)):
            prompt = slot.request.tokens
            if slot.fed < len(prompt):
                take = min(len(prompt) - slot.fed, STEP_TOKENS - n)
                if take <= 0:
                    continue
                for i in range(take):
                    pos = slot.fed + i
                    self._put(n, prompt[pos], pos, slot.seq, pos == len(prompt) - 1)
                    n += 1
                slot.fed += take
                if slot.fed == len(prompt):
                    sampled.append((slot, n - 1))
            else:
                if n >= STEP_TOKENS:
                    continue
                pos = len(prompt) + len(slot.out) - 1
                self._put(n, slot.out[-1], pos, slot.seq, True)
                sampled.append((slot, n))
                n += 1
        batch.n_tokens = n
        if n == 0:
            return
        code = ll.llama_decode(self._ctx, batch)
        if code != 0:
            raise RuntimeError(f"llama.cpp could not decode a step (code {code})")
        for slot, index in sampled:
            token = ll.llama_sampler_sample(slot.sampler, self._ctx, index)
            if ll.llama_vocab_is_eog(self._vocab, token):
                self._finish(slot, "stop")
                continue
            slot.out.append(token)
            slot.pieces.append(self._piece(token))
            if len(slot.out) >= slot.request.max_tokens:
                self._finish(slot, "length")

    def _put(self, i: int, token: int, pos: int, seq: int, logits: bool) -> None:
        batch = self._batch
        batch.token[i] = token
        batch.pos[i] = pos
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = seq
        batch.logits[i] = 1 if logits else 0

    def _piece(self, token: int) -> bytes:
        buf = ctypes.create_string_buffer(64)
        n = self._ll.llama_token_to_piece(self._vocab, token, buf, len(buf), 0, False)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = self._ll.llama_token_to_piece(self._vocab, token, buf, len(buf), 0, False)
        return buf.raw[:n]

    def _finish(self, slot: _Slot, reason: str) -> None:
        text = b"".join(slot.pieces).decode("utf-8", errors="ignore")
        self._release(slot, TextReply(text=text, finish_reason=reason, tokens_in=len(slot.request.tokens),
                                      tokens_out=len(slot.out), tokens_reused=slot.reused))
