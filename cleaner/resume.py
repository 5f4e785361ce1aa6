"""Keep each input file's per-document results while a run goes, so `--resume` can finish it.

A run keeps a cache folder beside OUT, `.OUT.cleaner-cache/` (hidden, so never read as input).
As each input file comes out of the per-document stages (ingest, normalise, rules, langid), its
documents are stored as one entry, written under a temporary name and renamed, so a killed run
leaves whole entries or none. `--resume` reuses an entry only when everything that decides its
documents is unchanged: the file's location, relative path, id and format, the sha256 of its
bytes (taken before it is read; a part of a large JSON Lines file is an entry of its own,
keyed on its byte range and hashed alone), and the run digest (cleaner's version, every setting that
changes output, the rule set's digest). Any other entry, one that does not parse included, is
recomputed. Dedup and write always run again: they are global, and write is atomic already.

A run without `--resume` starts an empty cache; a run that writes its output removes it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from . import __version__
from .config import Settings
from .document import Document
from .ingest import InputFile, hash_stream
from .rules import RuleSet

FileResult = tuple[list[Document], dict[str, float]]
# An entry is `{"key": {...}, "documents": [...]}`; its key is read from its first bytes alone.
_KEY_PREFIX = '{"key": '
_KEY_BYTES = 1 << 16
ProcessFiles = Callable[[Sequence[InputFile]], Iterator[FileResult]]


def cache_folder(out: Path) -> Path:
    """Where a run writing `out` keeps its per-file results.

    >>> cache_folder(Path("runs/out")).as_posix()
    'runs/.out.cleaner-cache'
    """
    return out.parent / f".{out.name}.cleaner-cache"


def run_digest(settings: Settings, ruleset: RuleSet) -> str:
    """Hash what decides a file's documents besides its bytes: version, settings and rules."""
    record = {"version": __version__, "settings": settings.to_record(), "rules": ruleset.digest}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode("ascii")).hexdigest()


class ResultCache:
    """The per-file results of one OUT's runs; `reuse` (from --resume) decides if entries are read."""

    def __init__(self, folder: Path, reuse: bool) -> None:
        self.folder = folder
        self.reuse = reuse
        self.reused = 0

    def process(
        self, files: Sequence[InputFile], settings: Settings, ruleset: RuleSet, process: ProcessFiles
    ) -> Iterator[FileResult]:
        """Yield each file's documents in file order: from the cache when reusable, else from `process`.

        Reused files report no stage timings; `process` runs once, over the files left to do,
        and each of its results is stored as it arrives.
        """
        if not self.reuse:
            self.remove()
        self.folder.mkdir(parents=True, exist_ok=True)
        digest = run_digest(settings, ruleset)
        keys = [self._key(file, digest) for file in files]
        # Only the entries' keys are read here: a reused file's documents are loaded when its
        # turn comes, so a resumed run holds one file's documents at a time, as a fresh one does.
        reusable = [bool(self.reuse and key and self._stored_key(key) == key) for key in keys]
        self.reused = sum(reusable)
        pending = process([file for file, reuse in zip(files, reusable) if not reuse])
        for file, key, reuse in zip(files, keys, reusable):
            documents = self._load(key) if reuse else None
            if documents is not None:
                yield documents, {}
                continue
            if reuse:  # the entry changed since its key was read: compute the file after all
                self.reused -= 1
                documents, timings = next(iter(process([file])))
            else:
                documents, timings = next(pending)
            if key is not None:
                self._store(key, documents)
            yield documents, timings

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def _key(self, file: InputFile, digest: str) -> dict[str, Any] | None:
        """What an entry must match to be reused; None for a file that cannot be hashed (never cached)."""
        try:
            with file.open() as handle:
                sha256, size = hash_stream(handle)
        except OSError:
            return None
        location = file.location
        part = [file.part.start, file.part.end, file.part.lines] if file.part else None
        return {
            "location": location, "part": part, "path": file.relpath, "id": file.id, "format": file.format,
            "sha256": sha256, "size": size, "run": digest,
        }

    def _entry(self, key: dict[str, Any]) -> Path:
        where = key["location"] if key["part"] is None else f"{key['location']}#{key['part'][0]}-{key['part'][1]}"
        name = hashlib.sha256(os.fsencode(where)).hexdigest()
        return self.folder / f"{name}.json"

    def _stored_key(self, key: dict[str, Any]) -> dict[str, Any] | None:
        """The key an entry was stored under, read from the entry's first bytes (it leads the
        entry's JSON); None when there is none or it cannot be read."""
        try:
            with self._entry(key).open("rb") as handle:
                head = handle.read(_KEY_BYTES).decode("ascii", errors="replace")
            if not head.startswith(_KEY_PREFIX):
                return None
            stored, _ = json.JSONDecoder().raw_decode(head, len(_KEY_PREFIX))
            return stored if isinstance(stored, dict) else None
        except (OSError, ValueError):
            return None

    def _load(self, key: dict[str, Any]) -> list[Document] | None:
        try:
            entry = json.loads(self._entry(key).read_text(encoding="ascii"))
            if entry["key"] != key:
                return None
            return [Document.from_state(state) for state in entry["documents"]]
        except (OSError, ValueError, KeyError, TypeError):
            return None  # missing, cut short or from another version: recompute the file

    def _store(self, key: dict[str, Any], documents: list[Document]) -> None:
        # ASCII JSON: lone surrogates (undecodable file names) survive as \udcXX escapes.
        entry = json.dumps({"key": key, "documents": [doc.to_state() for doc in documents]})
        path = self._entry(key)
        temporary = path.with_name(f"{path.name}.tmp-{os.getpid()}")
        temporary.write_text(entry, encoding="ascii")
        os.replace(temporary, path)
