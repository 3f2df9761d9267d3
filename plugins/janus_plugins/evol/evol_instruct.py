"""Direction pack 'evol-instruct': rewrite a request to be deeper (five ways) or to branch out.

Each direction has its own prompt; all share the rewriting rules below. Written for Janus from
the ideas of the Evol-Instruct method (in-depth and in-breadth evolving).
"""

from __future__ import annotations

from janus_core.sdk.contracts import Direction

RULES = """\
Rules for the rewritten request:
- Add only 10 to 20 words to the user's request; keep it natural for the {{ user_role }} to say.
- Keep every table, code block, number and quoted piece of data in it exactly as it is.
- It must stay reasonable and answerable, and stay true to the situation described above.
- Never mention "given prompt", "rewritten prompt", "#Given Prompt#", "#Rewritten Prompt#", the
  diagram, or that anything was rewritten."""

FRAME = """\
You rewrite requests to make training data for an AI assistant that plays the {{ assistant_role }}; \
the user is the {{ user_role }}.
{% if description %}About the situation: {{ description }}
{% endif %}The situation, in plain words:
{{ context }}

Here is an existing example:
{{ previous }}

@HOW@

@RULES@

Then write the {{ assistant_role }}'s answer to the new request.

{{ output_format }}"""


def _direction(name: str, description: str, how: str) -> Direction:
    return Direction(name=name, pack="evol-instruct", description=description, instructions=(how,),
                     template=FRAME.replace("@HOW@", how).replace("@RULES@", RULES))


EVOL_INSTRUCT = (
    _direction("add-constraints", "in depth: add one more constraint or requirement",
               "Rewrite the user's last request so it is harder to satisfy: add one more constraint or "
               "requirement that a real {{ user_role }} could have."),
    _direction("deepening", "in depth: ask about the topic more deeply and broadly",
               "Rewrite the user's last request so it goes deeper: where it asks about something, ask "
               "about it in more depth and breadth."),
    _direction("concretizing", "in depth: replace general ideas with specific ones",
               "Rewrite the user's last request so it is more concrete: replace general ideas and words "
               "with specific ones (names, amounts, dates, situations)."),
    _direction("increase-reasoning", "in depth: ask for several steps of reasoning",
               "Rewrite the user's last request so that answering it clearly needs several steps of "
               "reasoning; if it can be solved in one thought, ask for the reasoning explicitly."),
    _direction("complicate-input", "in depth: add realistic input data (a table, code, a record)",
               "Rewrite the user's last request by adding realistic input the {{ assistant_role }} must "
               "work with, such as a small table, a code snippet or a record, in a fitting format."),
    _direction("in-breadth", "in breadth: a new, rarer request in the same domain",
               "Write a brand-new request the {{ user_role }} could make in the same domain and of the "
               "same length and difficulty, but about something rarer than the example."),
)
