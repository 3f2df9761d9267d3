"""Janus's first-party plugins, one subpackage each, loaded by name in a fixed order."""
