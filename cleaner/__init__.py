"""cleaner: clean and deduplicate scraped news and web text, explaining every removed byte."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Each public name and the module it lives in, imported when first asked (PEP 562): importing
# one module of the package (the index helper, a CLI command) does not import the pipeline,
# trafilatura and friends with it.
_PUBLIC = {
    "Settings": "config",
    **dict.fromkeys(["Document", "Fix", "Flag", "Reason", "Removal", "Source", "rebuild_text"], "document"),
    **dict.fromkeys(["CleanerError", "ConfigError", "DocumentError", "InputError", "OutputError"], "errors"),
    **dict.fromkeys(["RunResult", "clean_corpus"], "pipeline"),
}

# `normalise` is also its module's name: importing the module `cleaner.normalise` anywhere
# would bind the module to that name here, so the function is bound now, once and for good.
from .normalise import normalise, normalise_text  # noqa: E402

__all__ = [
    "CleanerError",
    "ConfigError",
    "Document",
    "DocumentError",
    "Fix",
    "Flag",
    "InputError",
    "OutputError",
    "Reason",
    "Removal",
    "RunResult",
    "Settings",
    "Source",
    "clean_corpus",
    "normalise",
    "normalise_text",
    "rebuild_text",
]

if TYPE_CHECKING:
    from .config import Settings
    from .document import Document, Fix, Flag, Reason, Removal, Source, rebuild_text
    from .errors import CleanerError, ConfigError, DocumentError, InputError, OutputError
    from .pipeline import RunResult, clean_corpus


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'cleaner' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
