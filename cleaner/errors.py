"""Exceptions raised by the library; only the CLI turns them into exit codes."""

from __future__ import annotations


class CleanerError(Exception):
    """Base class: the message says what went wrong, where, and how to fix it."""

    exit_code = 2


class ConfigError(CleanerError):
    """A setting, option or rule is invalid."""


class InputError(CleanerError):
    """An input path cannot be used at all (missing, not a file or directory)."""


class OutputError(CleanerError):
    """The output folder cannot be written safely."""


class DocumentError(CleanerError):
    """One input document cannot be read; the run records it and goes on."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class EngineError(CleanerError):
    """The engine cannot run the work: a cluster out of reach, a task lost after its retries."""
