"""Exceptions raised by otel_flux."""


class FluxError(Exception):
    """Base class of every exception otel_flux raises on purpose."""


class ConfigError(FluxError, ValueError):
    """A setting has an invalid value.

    The message names the environment variable, the rejected value and what is
    accepted, so the user can fix it without reading the code.
    """

    def __init__(self, variable: str, value: str, accepted: str, hint: str = "") -> None:
        self.variable = variable
        self.value = value
        self.accepted = accepted
        message = f"invalid value {value!r} for {variable}: expected {accepted}"
        if hint:
            message += f"; {hint}"
        super().__init__(message)
