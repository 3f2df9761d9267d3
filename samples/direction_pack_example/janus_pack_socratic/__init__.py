"""Direction pack 'socratic': the assistant teaches by asking."""

from janus_core import Direction, hookimpl

GUIDING = Direction(
    name="socratic",
    pack="socratic",
    description="The assistant answers with guiding questions instead of solutions.",
    instructions=("SOCRATIC: the assistant answers with one or two guiding questions that lead the "
                  "{{ user_role }} to the answer, instead of giving it.",),
)

# A direction may bring its own prompt; it replaces setup.yaml's derivational_prompt.
CHALLENGE = Direction(
    name="socratic-challenge",
    pack="socratic",
    description="The user questions the assistant's last answer; the assistant examines it.",
    template="""\
Continue this exchange between a {{ user_role }} (the user) and a {{ assistant_role }} (the assistant).
{{ context }}

The exchange so far:
{{ previous }}

The {{ user_role }} now questions the assistant's last answer with a pointed "why"; the
{{ assistant_role }} examines its own reasoning honestly and answers.

{{ output_format }}""",
)


@hookimpl
def register_directions(register):
    register(GUIDING)
    register(CHALLENGE)
