"""The one error a bad configuration raises."""

from __future__ import annotations


class SettingsError(Exception):
    """A configuration value is missing or malformed; the message starts with the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem
