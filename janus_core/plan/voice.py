"""TEMP stand-in until the rolefilters branch lands."""
import re

_HOST = re.compile(r"\b(how (?:can|may) i (?:help|assist)|i'?m here to help|what can i do for you|welcome to)\b", re.I)
def voice_problem(text: str, role: str, user_role: str, assistant_role: str) -> str | None:
    if role == "user" and _HOST.search(text):
        return "wrong-voice: offers help as the host"
    return None
