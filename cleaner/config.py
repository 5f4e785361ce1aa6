"""Settings of a run: one frozen object, filled from `[tool.cleaner]` then CLI flags.

Project configuration lives in `cleaner.toml` (top-level keys) or in `[tool.cleaner]` of
`pyproject.toml`, found in the working folder or the nearest parent that has one. Keys are
kebab-case (`paragraph-threshold`); an unknown key is an error that names the file and the key.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from .errors import ConfigError
from .fastminhash import HASHES as SHINGLE_HASHES

LEVELS = ("document", "paragraph", "all")
# Keys of [tool.cleaner] read by the gate (`cleaner check`), not by the pipeline.
GATE_KEYS = ("max-findings", "max-duplicate-rate", "budgets", "per-path-ignores")
KEEP_POLICIES = ("first", "longest", "earliest")
LANGID_BACKENDS = ("fasttext", "langdetect")
# Settings that never change what a run writes: left out of the manifest and of resume's keys.
OUTPUT_NEUTRAL = ("workers", "strict", "engine", "address", "runtime_env", "split_components")
ENGINES = ("local", "ray")


@dataclass(frozen=True)
class Settings:
    """Everything that decides what a run reads and writes.

    `workers`, `engine`, `address`, `runtime_env`, `split_components` and `strict` never change the output; the others do, and all
    are recorded in the manifest. Thresholds are Jaccard similarities of the shingle sets,
    verified exactly; containments are the share of an item's shingles found in a kept copy. The
    dedup defaults were chosen by measurement (`bench/dedup_shingling.py`, see bench/README-dedup.md).
    """

    text_field: str = "text"
    id_field: str = "id"
    workers: int = 0
    strict: bool = False
    # where the per-file stages run: a local process pool, or a Ray cluster (`address`: auto,
    # ray://HOST:10001; empty starts a private one on this machine)
    engine: str = "local"
    address: str = ""
    # Ray's runtime_env for the engine's workers: a JSON object, or a .json/.yaml file
    runtime_env: str = ""
    # ingest
    max_file_size: int = 64 * 1024 * 1024
    follow_symlinks: bool = False
    encoding_fallback: str = ""
    # dedup
    level: str = "all"
    threshold: float = 0.5
    document_containment: float = 0.9
    paragraph_threshold: float = 0.5
    paragraph_containment: float = 0.8
    fact_guard: bool = True
    keep: str = "first"
    num_perm: int = 128
    seed: int = 1
    document_shingling: str = "word-3"
    paragraph_shingling: str = "char-5"
    # poly64 is the fast default; sha1 gives datasketch's own sha1_hash32 values (see fastminhash)
    shingle_hash: str = "poly64"
    min_paragraph_words: int = 8
    max_cluster_share: float = 0.01
    # decide each connected component of candidate pairs in its own task, not all items in one
    # in-order pass (the same output: for corpora whose one pass is too slow for the driver)
    split_components: bool = False
    # rules and language
    rules: tuple[str, ...] = ()
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    lang: tuple[str, ...] = ()
    langid_backend: str = "fasttext"

    def __post_init__(self) -> None:
        if self.workers < 0:
            raise ConfigError(f"workers must be 0 (all cores) or more, not {self.workers}")
        if self.engine not in ENGINES:
            raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, not {self.engine!r}")
        if self.address and self.engine != "ray":
            raise ConfigError(f"address {self.address!r} is for the Ray engine; add --engine ray (or engine = \"ray\")")
        if self.runtime_env and self.engine != "ray":
            raise ConfigError("runtime-env is for the Ray engine; add --engine ray (or engine = \"ray\")")
        if self.max_file_size < 1:
            raise ConfigError(f"max-file-size must be a positive number of bytes, not {self.max_file_size}")
        if self.encoding_fallback:
            from .ingest.text import fallback_codec  # ingest imports config: not at module top

            fallback_codec(self.encoding_fallback)
        if not self.text_field:
            raise ConfigError("text-field must not be empty; name the JSON field that holds the text")
        for name in ("document_containment", "paragraph_containment"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{_key(name)} must be in [0, 1] (0 turns it off), not {getattr(self, name)!r}")
        for name in ("threshold", "paragraph_threshold", "max_cluster_share"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ConfigError(f"{_key(name)} must be a number in (0, 1], not {value!r}")
        if self.level not in LEVELS:
            raise ConfigError(f"level must be one of {', '.join(LEVELS)}, not {self.level!r}")
        if self.keep not in KEEP_POLICIES:
            raise ConfigError(f"keep must be one of {', '.join(KEEP_POLICIES)}, not {self.keep!r}")
        if self.num_perm < 16:
            raise ConfigError(f"num-perm must be at least 16, not {self.num_perm}")
        if self.langid_backend not in LANGID_BACKENDS:
            raise ConfigError(f"langid-backend must be one of {', '.join(LANGID_BACKENDS)}, not {self.langid_backend!r}")
        if self.shingle_hash not in SHINGLE_HASHES:
            raise ConfigError(f"shingle-hash must be one of {', '.join(SHINGLE_HASHES)}, not {self.shingle_hash!r}")
        for name in ("document_shingling", "paragraph_shingling"):
            parse_shingling(getattr(self, name), _key(name))

    @property
    def processes(self) -> int:
        """The number of worker processes to use (0 means one per core)."""
        return self.workers or os.cpu_count() or 1

    def to_record(self) -> dict[str, Any]:
        """The settings that decide the output (`workers` and `strict` never do), as JSON values:
        what the manifest records, so two runs differing only in those write the same bytes."""
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in asdict(self).items()
            if key not in OUTPUT_NEUTRAL
        }

    def updated(self, **changes: Any) -> Settings:
        """Return a copy with the given fields changed (None values are ignored)."""
        return replace(self, **{key: value for key, value in changes.items() if value is not None})


def parse_shingling(value: str, key: str = "shingling") -> tuple[str, int]:
    """Parse `word-5` / `char-5`.

    >>> parse_shingling("char-5")
    ('char', 5)
    """
    unit, _, size = value.partition("-")
    if unit not in ("word", "char") or not size.isdigit() or int(size) < 1:
        raise ConfigError(f"{key} must look like word-5 or char-5, not {value!r}")
    return unit, int(size)


def _key(name: str) -> str:
    return name.replace("_", "-")


@dataclass(frozen=True)
class ProjectConfig:
    """The `[tool.cleaner]` table found for a folder, and where it came from."""

    path: Path | None = None
    values: Mapping[str, Any] = field(default_factory=dict)

    @property
    def paths(self) -> list[Path]:
        """Input paths named in the config, relative to the config file's folder."""
        base = self.path.parent if self.path else Path(".")
        return [base / p for p in self.values.get("paths", [])]

    def settings(self, base: Settings | None = None) -> Settings:
        """Apply the config's values to `base` (defaults when None)."""
        base = base or Settings()
        known = {_key(f.name): f for f in fields(Settings)}
        changes: dict[str, Any] = {}
        for key, value in self.values.items():
            if key == "paths" or key in GATE_KEYS:
                continue
            target = known.get(key)
            if target is None:
                raise ConfigError(f"{self.path}: unknown key {key!r} in [tool.cleaner]; known keys: paths, {', '.join(sorted([*known, *GATE_KEYS]))}")
            changes[target.name] = _coerce(value, getattr(base, target.name), f"{self.path}: {key}")
            if key == "rules":
                changes["rules"] = tuple(str(self.path.parent / folder) for folder in changes["rules"])
        try:
            return replace(base, **changes)
        except ConfigError as error:
            raise ConfigError(f"{self.path}: {error}") from None


def _coerce(value: Any, default: Any, where: str) -> Any:
    if isinstance(default, tuple):
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            raise ConfigError(f"{where} must be a string or a list of strings, not {value!r}")
        return tuple(items)
    if isinstance(default, bool) or isinstance(default, str):
        if type(value) is not type(default):
            raise ConfigError(f"{where} must be a {type(default).__name__}, not {value!r}")
        return value
    if isinstance(default, float) and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(default, int) and isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ConfigError(f"{where} must be a {type(default).__name__}, not {value!r}")


def load_project_config(start: Path | None = None) -> ProjectConfig:
    """Find `cleaner.toml` or a pyproject.toml with `[tool.cleaner]` in `start` or its parents."""
    folder = (start or Path.cwd()).resolve()
    for candidate in [folder, *folder.parents]:
        own = candidate / "cleaner.toml"
        if own.is_file():
            return ProjectConfig(own, _read_toml(own))
        pyproject = candidate / "pyproject.toml"
        if pyproject.is_file():
            table = _read_toml(pyproject).get("tool", {}).get("cleaner")
            if table is not None:
                if not isinstance(table, dict):
                    raise ConfigError(f"{pyproject}: [tool.cleaner] must be a table")
                return ProjectConfig(pyproject, table)
    return ProjectConfig()


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the configuration: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from None
