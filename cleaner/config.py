"""Settings of a run: one frozen object, recorded in full in the manifest."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

from .errors import ConfigError


@dataclass(frozen=True)
class Settings:
    """Everything that decides what a run reads and writes.

    `workers` and `strict` never change the output; the others do, and all are recorded.
    """

    text_field: str = "text"
    id_field: str = "id"
    workers: int = 1
    strict: bool = False

    def __post_init__(self) -> None:
        if self.workers < 0:
            raise ConfigError(f"workers must be 0 (all cores) or more, not {self.workers}")
        if not self.text_field:
            raise ConfigError("text_field must not be empty; name the JSON field that holds the text")

    @property
    def processes(self) -> int:
        """The number of worker processes to use (0 means one per core)."""
        return self.workers or os.cpu_count() or 1

    def to_record(self) -> dict[str, Any]:
        return asdict(self)
