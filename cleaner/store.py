"""The documents of a run between the per-document stages and write, held on disk.

A run's documents used to sit in one list from ingest to write: at 100k news articles that is
about 1.5 GB, at a million more than a laptop has. `DocumentStore` pickles each document into
an `Arena` (a temporary file) as the engine hands its file over, and keeps in memory only what
orders and counts them: id, path, record number and status. Readers get a fresh copy of a
document each time they ask; a stage that changes one (dedup, the id renaming) puts it back.
Small corpora never reach the file: the arena's buffer holds them.
"""

from __future__ import annotations

import pickle
from typing import Iterable, Iterator, Sequence, overload

from .arena import Arena
from .document import Document


class DocumentStore(Sequence[Document]):
    """Documents in id order once `sort_by_id` has run (in arrival order before)."""

    def __init__(self, documents: Iterable[Document] = (), arena: Arena | None = None) -> None:
        self._arena = arena or Arena()
        self._blobs: list[int] = []  # the arena blob holding each document's latest version
        self._ids: list[str] = []
        self._places: list[tuple[str, int]] = []  # (source path, record number)
        self._statuses: list[str] = []
        self._order: list[int] = []  # positions in id order
        self._positions: dict[str, int] = {}
        self.extend(documents)

    def append(self, doc: Document) -> None:
        position = len(self._blobs)
        self._blobs.append(self._save(doc))
        self._ids.append(doc.id)
        self._places.append((doc.source.path, doc.source.record or 0))
        self._statuses.append(doc.status)
        self._order.append(position)
        self._positions[doc.id] = position

    def extend(self, documents: Iterable[Document]) -> None:
        for doc in documents:
            self.append(doc)

    def __len__(self) -> int:
        return len(self._order)

    @overload
    def __getitem__(self, index: int) -> Document: ...

    @overload
    def __getitem__(self, index: slice) -> list[Document]: ...

    def __getitem__(self, index: int | slice) -> Document | list[Document]:
        if isinstance(index, slice):
            return [self._load(position) for position in self._order[index]]
        return self._load(self._order[index])

    def __iter__(self) -> Iterator[Document]:
        return (self._load(position) for position in self._order)

    def put(self, doc: Document) -> None:
        """Store a changed document in place of the version with its id."""
        position = self._positions[doc.id]
        self._blobs[position] = self._save(doc)
        self._statuses[position] = doc.status

    def statuses(self) -> list[str]:
        """Each document's status, in order, without reading the documents."""
        return [self._statuses[position] for position in self._order]

    def ids(self) -> list[str]:
        return [self._ids[position] for position in self._order]

    def sort_by_id(self) -> None:
        """Order by (id, source path, record) and rename the later holders of a taken id to
        `<path>#<record>` (or `~N`), keeping the original in `meta.duplicate_id`."""
        self._order.sort(key=lambda position: (self._ids[position], *self._places[position]))
        taken = set(self._ids)
        seen: set[str] = set()
        for position in self._order:
            doc_id = self._ids[position]
            if doc_id in seen:
                path, record = self._places[position]
                base = f"{path}#{record}" if record else path
                unique, number = base, 1
                while unique in taken:
                    number += 1
                    unique = f"{base}~{number}"
                doc = self._load(position)
                doc.meta = {**doc.meta, "duplicate_id": doc.id}
                doc.id = unique
                self._ids[position] = unique
                self._blobs[position] = self._save(doc)
                taken.add(unique)
            seen.add(self._ids[position])
        self._order.sort(key=lambda position: self._ids[position])
        self._positions = {self._ids[position]: position for position in self._order}

    def _save(self, doc: Document) -> int:
        return self._arena.append(pickle.dumps(doc, protocol=pickle.HIGHEST_PROTOCOL))

    def _load(self, position: int) -> Document:
        return pickle.loads(self._arena[self._blobs[position]])


def statuses(documents: Sequence[Document]) -> list[str]:
    """Each document's status, in order (a store answers without reading its documents)."""
    return documents.statuses() if isinstance(documents, DocumentStore) else [doc.status for doc in documents]
