"""The errors Janus raises, at a stable import path for tools that catch them.

``janus_core.errors.JanusError`` is what every expected failure derives from (a bad spec, a
plugin that cannot load, a backend that refuses); the definitions live in ``janus_core.sdk.errors``.
"""

from janus_core.sdk.errors import BackendError, ConfigurationError, JanusError, PluginError, Problem, SpecError

__all__ = ["BackendError", "ConfigurationError", "JanusError", "PluginError", "Problem", "SpecError"]
