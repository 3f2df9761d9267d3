"""A reply that holds a secret is no record: a server that echoes the key it was sent (as is, or
in any encoding ``scrub`` knows) must not get it into the dataset, the journal or a later prompt."""

from __future__ import annotations

from janus_core.sdk.contracts import Completion
from janus_core.sdk.credentials import holds_secret

#: The failure ledger's reason for such a reply.
SECRET_IN_REPLY = "secret-in-reply"
DETAIL = ("the reply held a key or token this run uses (as is or encoded), so it was not kept: nothing of it "
          "is stored; check what the server at the backend's address does with the key it is sent")


def secret_in_reply(completion: Completion) -> str | None:
    """The ledger detail for a reply that holds a loaded secret, or None for one that holds none."""
    if holds_secret(completion.text) or holds_secret(completion.model or "") or \
            holds_secret(completion.reasoning or "") or \
            any(holds_secret(call.name) or holds_secret(call.arguments) for call in completion.tool_calls):
        return DETAIL
    return None
