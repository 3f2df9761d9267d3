"""The ``janus`` command line; progress and summary drawing.

Plugins that bring commands (``register_commands``) build them with the helpers exported here;
``echo`` prints text that may come from outside with its control characters shown as escapes.
"""

from janus_core.cli.main import (
    cli,
    echo,
    get_plugins,
    load_checked_spec,
    main,
    plugin_option,
    reports_errors,
    split_options,
)

__all__ = ["cli", "echo", "get_plugins", "load_checked_spec", "main", "plugin_option", "reports_errors",
           "split_options"]
