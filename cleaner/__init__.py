"""cleaner: clean and deduplicate scraped news and web text, explaining every removed byte."""

__version__ = "0.1.0"

from .config import Settings  # noqa: E402
from .document import Document, Fix, Flag, Reason, Removal, Source, rebuild_text  # noqa: E402
from .errors import CleanerError, ConfigError, DocumentError, InputError, OutputError  # noqa: E402
from .normalise import normalise, normalise_text  # noqa: E402
from .pipeline import RunResult, clean_corpus  # noqa: E402

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
