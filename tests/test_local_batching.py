"""The embedded model's sequences decoded together (janus_plugins.local.batching) with the real GGUF."""

from __future__ import annotations

import asyncio

import pytest
from conftest import has_local_model

pytestmark = [pytest.mark.local_model,
              pytest.mark.skipif(not has_local_model(), reason="needs the 'local' extra (llama-cpp-python)")]

TOPICS = ["the night shift", "blood pressure checks", "booking an MRI", "a patient's insulin"]


@pytest.fixture(scope="module")
def model():
    from janus_plugins.local import bundled_model_path
    from janus_plugins.local.batching import LoadedModel

    loaded = LoadedModel(str(bundled_model_path()))
    yield loaded
    loaded.close()


def requests(model, max_tokens: int = 24, temperature: float = 0.3):
    from janus_plugins.local.batching import TextRequest

    return [TextRequest(tokens=model.chat_tokens([{"role": "system", "content": "You are a nurse at a clinic."},
                                                  {"role": "user", "content": f"Tell me about {topic}."}]),
                        max_tokens=max_tokens, temperature=temperature, seed=11 + i, repeat_penalty=1.2)
            for i, topic in enumerate(TOPICS)]


def one_after_another(model, sequences: int, reqs) -> list:
    from janus_plugins.local.batching import SequenceBatcher

    batcher = SequenceBatcher(model.model, sequences, 1024, 2)
    try:
        return [batcher.submit(r).result(timeout=300) for r in reqs]
    finally:
        batcher.close()


def all_at_once(model, sequences: int, reqs) -> list:
    from janus_plugins.local.batching import SequenceBatcher

    batcher = SequenceBatcher(model.model, sequences, 1024, 2)
    try:
        futures = [batcher.submit(r) for r in reqs]
        return [f.result(timeout=300) for f in futures]
    finally:
        batcher.close()


def test_the_same_seed_gives_the_same_text_one_sequence_at_a_time(model):
    reqs = requests(model)
    first = [r.text for r in one_after_another(model, 1, reqs)]
    assert all(first) and len(set(first)) == len(first)
    assert [r.text for r in one_after_another(model, 1, reqs)] == first


def test_a_request_alone_in_the_batch_gets_the_text_whatever_the_number_of_sequences(model):
    reqs = requests(model)
    alone = [r.text for r in one_after_another(model, 1, reqs)]
    assert [r.text for r in one_after_another(model, 4, reqs)] == alone


def test_conversations_decoded_together_stay_apart(model):
    """Four copies of one request decoded in the same steps get one text, and four different
    requests each get a reply of their own (no cells or sampler shared between sequences)."""
    from janus_plugins.local.batching import TextRequest

    one = requests(model, max_tokens=16)[0]
    copies = [TextRequest(tokens=one.tokens, max_tokens=16, temperature=0.3, seed=5, repeat_penalty=1.2)
              for _ in range(4)]
    texts = [r.text for r in all_at_once(model, 4, copies)]
    assert len(set(texts)) == 1 and texts[0]
    replies = all_at_once(model, 4, requests(model, max_tokens=16))
    assert len({r.text for r in replies}) == 4
    assert all(r.tokens_out > 0 and r.tokens_in == len(q.tokens) for r, q in zip(replies, requests(model), strict=True))


def test_a_next_turn_reads_in_only_what_is_new(model):
    from janus_plugins.local.batching import SequenceBatcher, TextRequest

    first = requests(model, max_tokens=12)[0]
    batcher = SequenceBatcher(model.model, 2, 1024, 2)
    try:
        reply = batcher.submit(first).result(timeout=300)
        assert reply.tokens_reused == 0
        turn = model.chat_tokens([{"role": "system", "content": "You are a nurse at a clinic."},
                                  {"role": "user", "content": f"Tell me about {TOPICS[0]}."},
                                  {"role": "assistant", "content": reply.text},
                                  {"role": "user", "content": "And at weekends?"}])
        again = batcher.submit(TextRequest(tokens=turn, max_tokens=12, temperature=0.3, seed=3)).result(timeout=300)
        # the system prompt and the first question at least were kept
        assert again.tokens_reused >= len(first.tokens) - 2
        assert again.text
    finally:
        batcher.close()


def test_prompts_too_long_for_a_sequence_are_refused_by_the_batcher(model):
    from janus_plugins.local.batching import SequenceBatcher, TextRequest

    batcher = SequenceBatcher(model.model, 1, 256, 2)
    try:
        future = batcher.submit(TextRequest(tokens=[1] * 250, max_tokens=10, temperature=0, seed=0))
        with pytest.raises(ValueError, match="do not fit"):
            future.result(timeout=10)
    finally:
        batcher.close()


def test_the_backend_sends_long_prompts_and_json_to_the_one_at_a_time_path():
    from janus_plugins.local import LocalBackend

    from janus_core.sdk.contracts import CompletionRequest

    backend = LocalBackend(options={"threads": 2, "sequence_ctx": 256, "n_ctx": 2048})
    backend.set_concurrency(2)

    async def go():
        long = [{"role": "user", "content": "Describe the clinic's wards. " * 60}]
        try:
            reply = await backend.complete(CompletionRequest(messages=long, max_tokens=8, temperature=0, seed=1))
            short = await backend.complete(CompletionRequest(messages=[{"role": "user", "content": "Hi"}],
                                                             max_tokens=8, temperature=0, seed=1))
            return reply, short
        finally:
            await backend.aclose()

    reply, short = asyncio.run(go())
    assert reply.tokens_in > 256 and reply.text  # ran alone on the n_ctx context
    assert short.tokens_out > 0
