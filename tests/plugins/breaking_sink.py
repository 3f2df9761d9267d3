"""A test plugin: a JSONL sink that writes two rows and then fails, like a full disk."""

from janus_plugins.sinks import JsonlSink

from janus_core import hookimpl


class BreakingSink(JsonlSink):
    name = "breaking"
    description = "JSONL that fails after two rows"
    suffixes = ()

    def write(self, records) -> None:
        if self.written >= 2:
            raise OSError(28, "No space left on device")
        super().write(records)


@hookimpl
def register_sinks(register):
    register(BreakingSink)
