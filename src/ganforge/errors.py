"""The one exception type a user should ever see from ganforge.

The CLI turns a `GanforgeError` into its message and exit code 2, without a traceback: bad input is the
user's to fix, and the message says how.
"""


class GanforgeError(Exception):
    """A problem with the user's input or files, explained in the message."""


class ConfigError(GanforgeError, ValueError):
    """An unknown name, key or value in a configuration or on the command line."""


class DataError(GanforgeError):
    """A dataset that cannot be found, read or used at the requested size."""


class CheckpointError(GanforgeError):
    """A checkpoint or run folder that is missing, corrupt, foreign or would be overwritten."""
