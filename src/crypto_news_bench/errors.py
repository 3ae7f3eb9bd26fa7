"""The one exception type the package raises for bad input, so the CLI can print it cleanly."""


class DataError(ValueError):
    """Bad input: the message says what is wrong and where (file, line, unit id)."""


class ConfigError(ValueError):
    """An experiment config that does not validate; the message lists the valid choices."""
