"""Errors that the CLI turns into one clear line and a non-zero exit code."""


class MCPeekerError(Exception):
    """A user-facing error: the message says what is wrong and where."""


class ConfigError(MCPeekerError):
    """A configuration file or setting is invalid."""
