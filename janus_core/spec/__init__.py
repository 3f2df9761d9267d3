"""A spec folder as data: setup.yaml model, bounded YAML, legacy mapping, sandboxed templates."""
