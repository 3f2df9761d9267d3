"""Janus: synthetic fine-tuning data from a described situation."""

from janus_core.sdk.hookspecs import hookimpl

__all__ = ["__version__", "hookimpl"]
__version__ = "0.1.0"
