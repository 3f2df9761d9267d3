"""The contracts plugin authors build on: hook specifications, base classes, records, errors, keys."""
