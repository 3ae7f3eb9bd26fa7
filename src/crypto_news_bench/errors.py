"""The errors the package raises for bad input or an unusable environment.

Every one is a ``CnbenchError`` whose message is one line saying what is wrong and where
(file, line, unit id, key, run id, URI); ``cnbench`` prints it and exits with code 2.
"""


class CnbenchError(Exception):
    """Base of the package's own errors: the CLI prints the message, without a traceback."""


class DataError(CnbenchError, ValueError):
    """Bad input data: the message says what is wrong and where (file, line, unit id)."""


class ConfigError(CnbenchError, ValueError):
    """An experiment config that does not validate; the message lists the valid choices."""


class TrackingError(CnbenchError, RuntimeError):
    """The tracking store or server cannot be used; the message says which and why."""


class PublishError(CnbenchError):
    """A run that cannot be published, or an output folder that must not be touched."""
