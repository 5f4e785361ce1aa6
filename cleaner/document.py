"""The records that flow through the stages: `Document`, its `Source`, `Removal`s and `Reason`.

Offsets always refer to the normalised text (`Document.text`). Stages record what they remove as
`Removal`s over content (a line, a paragraph, a phrase); `cut_spans` then decides which whitespace
goes with each removal, so that the cleaned text is exactly the normalised text with the recorded
spans cut out, and kept paragraphs stay joined by one blank line. That makes the provenance
complete: `rebuild_text(cleaned, removed)` gives back the normalised text, byte for byte.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Iterable, Iterator, Literal

Status = Literal["kept", "dropped", "error"]

PARAGRAPH_BREAK = "\n\n"


@dataclass(frozen=True)
class Source:
    """Where a document came from: enough to find the bytes again and to tell if they changed."""

    path: str
    format: str
    sha256: str
    size: int
    record: int | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "sha256": self.sha256,
            "size": self.size,
            "record": self.record,
        }


@dataclass(frozen=True)
class Reason:
    """Why a document was dropped or failed: the stage, the rule and a readable detail."""

    stage: str
    rule: str | None
    name: str
    detail: str = ""
    duplicate_of: str | None = None
    similarity: float | None = None

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "stage": self.stage,
            "rule": self.rule,
            "name": self.name,
            "detail": self.detail,
        }
        if self.duplicate_of is not None:
            record["duplicate_of"] = self.duplicate_of
        if self.similarity is not None:
            record["similarity"] = round(self.similarity, 4)
        return record


@dataclass(frozen=True)
class Removal:
    """A span of the normalised text that a stage removed, and why."""

    start: int
    end: int
    stage: str
    rule: str
    name: str
    detail: str = ""
    cluster: str | None = None
    duplicate_of: dict[str, Any] | None = None
    similarity: float | None = None

    def to_record(self, text: str, start: int, end: int) -> dict[str, Any]:
        record: dict[str, Any] = {
            "start": start,
            "end": end,
            "text": text[start:end],
            "stage": self.stage,
            "rule": self.rule,
            "name": self.name,
            "detail": self.detail,
        }
        if self.cluster is not None:
            record["cluster"] = self.cluster
        if self.duplicate_of is not None:
            record["duplicate_of"] = self.duplicate_of
        if self.similarity is not None:
            record["similarity"] = round(self.similarity, 4)
        return record


@dataclass(frozen=True)
class Flag:
    """A span a rule reports but keeps (a `flag` action): shown by `check` and `explain`."""

    start: int
    end: int
    stage: str
    rule: str
    name: str
    detail: str = ""

    def to_record(self, text: str) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "text": text[self.start : self.end],
            "stage": self.stage,
            "rule": self.rule,
            "name": self.name,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Fix:
    """One normalisation step that changed the text (ftfy's explanation, whitespace, layout)."""

    rule: str
    name: str
    detail: str

    def to_record(self) -> dict[str, Any]:
        return {"rule": self.rule, "name": self.name, "detail": self.detail}


@dataclass
class Document:
    """One document and everything the stages learned about it."""

    id: str
    source: Source
    text: str
    meta: dict[str, Any] = field(default_factory=dict)
    paragraphs: list[tuple[int, int]] = field(default_factory=list)
    removed: list[Removal] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    fixes: list[Fix] = field(default_factory=list)
    lang: str | None = None
    status: Status = "kept"
    reason: Reason | None = None
    origin: str | None = field(default=None, compare=False)
    """Where the bytes are on this machine (for messages); not part of the output."""

    @classmethod
    def failed(cls, id: str, source: Source, reason: Reason, origin: str | None = None) -> Document:
        """Make the record of an input that could not be read."""
        return cls(id=id, source=source, text="", status="error", reason=reason, origin=origin)

    def remove(self, removal: Removal) -> None:
        """Record a removal, keeping only the parts no earlier removal already covers."""
        pieces = [(removal.start, removal.end)]
        for other in self.removed:
            pieces = [p for piece in pieces for p in _subtract(piece, (other.start, other.end))]
        for start, end in pieces:
            if start < end:
                self.removed.append(replace(removal, start=start, end=end))

    def drop(self, reason: Reason) -> None:
        """Mark the document dropped; its text stays in the record so the drop is inspectable."""
        self.status = "dropped"
        self.reason = reason

    def paragraph_text(self, index: int) -> str:
        start, end = self.paragraphs[index]
        return self.text[start:end]

    def lines(self) -> Iterator[tuple[int, int, int]]:
        """Yield (paragraph index, start, end) for every line of every paragraph."""
        for index, (start, end) in enumerate(self.paragraphs):
            line_start = start
            while True:
                newline = self.text.find("\n", line_start, end)
                line_end = end if newline < 0 else newline
                yield index, line_start, line_end
                if newline < 0:
                    break
                line_start = newline + 1

    def cleaned_text(self) -> str:
        return cut_text(self.text, cut_spans(self.text, self.removed))

    def to_state(self) -> dict[str, Any]:
        """Return every field as JSON-ready data, so a run can store a document and pick it up again.

        Unlike `to_record`, which writes the cleaned text and widened spans for readers, the state
        keeps what the stages work on (normalised text, paragraph and removal spans as recorded).
        """
        return asdict(self)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Document:
        """Rebuild a document from `to_state` data (read back from JSON): equal to the original."""
        reason = state["reason"]
        return cls(
            id=state["id"],
            source=Source(**state["source"]),
            text=state["text"],
            meta=state["meta"],
            paragraphs=[(start, end) for start, end in state["paragraphs"]],
            removed=[Removal(**removal) for removal in state["removed"]],
            flags=[Flag(**flag) for flag in state["flags"]],
            fixes=[Fix(**fix) for fix in state["fixes"]],
            lang=state["lang"],
            status=state["status"],
            reason=Reason(**reason) if reason is not None else None,
            origin=state["origin"],
        )

    def to_record(self) -> dict[str, Any]:
        """Return the `docs.jsonl` object for this document (field order is part of the contract)."""
        cuts = cut_spans(self.text, self.removed)
        cleaned = cut_text(self.text, cuts)
        kept_paragraphs = sum(1 for _ in split_paragraphs(cleaned))
        return {
            "id": self.id,
            "source": self.source.to_record(),
            "status": self.status,
            "reason": self.reason.to_record() if self.reason else None,
            "text": cleaned,
            "lang": self.lang,
            "meta": self.meta,
            "fixes": [fix.to_record() for fix in self.fixes],
            "removed": [removal.to_record(self.text, start, end) for start, end, removal in cuts],
            "flags": [flag.to_record(self.text) for flag in sorted(self.flags, key=lambda f: (f.start, f.rule))],
            "stats": {
                "chars": len(self.text),
                "chars_kept": len(cleaned),
                "paragraphs": len(self.paragraphs),
                "paragraphs_kept": kept_paragraphs,
            },
        }


def split_paragraphs(text: str) -> Iterator[tuple[int, int]]:
    """Yield the spans of the paragraphs of a normalised text (separated by one blank line).

    >>> list(split_paragraphs("a\\nb\\n\\nc"))
    [(0, 3), (5, 6)]
    """
    start = 0
    while start < len(text):
        end = text.find(PARAGRAPH_BREAK, start)
        if end < 0:
            end = len(text)
        if end > start:
            yield start, end
        start = end + len(PARAGRAPH_BREAK)


def _subtract(piece: tuple[int, int], other: tuple[int, int]) -> list[tuple[int, int]]:
    start, end = piece
    other_start, other_end = other
    if other_end <= start or other_start >= end:
        return [piece]
    return [(start, other_start), (other_end, end)]


_WHITESPACE_OR_WORD = re.compile(r"\s+|\S+")


def _break_strength(whitespace: str) -> int:
    newlines = whitespace.count("\n")
    return 2 if newlines >= 2 else newlines


def cut_spans(text: str, removals: Iterable[Removal]) -> list[tuple[int, int, Removal]]:
    """Widen each removal over the whitespace it leaves behind; return (start, end, removal) cuts.

    Between two kept words, the strongest separator of a gap survives (a paragraph break beats a
    line break beats a space); the rest of the gap's whitespace is cut with the removal before it.
    At the edges of the text all whitespace next to a removal goes.

    >>> r = Removal(6, 10, "rules", "BP001", "read-more")
    >>> text = "keep\\n\\ncut!\\n\\nkeep"
    >>> [(s, e) for s, e, _ in cut_spans(text, [r])], cut_text(text, cut_spans(text, [r]))
    ([(6, 12)], 'keep\\n\\nkeep')
    """
    ordered = sorted(removals, key=lambda r: (r.start, r.end))
    cuts: dict[int, list[int]] = {}
    number = 0
    while number < len(ordered):
        gap, number, bounded = _gap(text, ordered, number)
        kept = None
        if bounded:
            spaces = [segment for segment in gap if segment[0] == "W"]
            if spaces:
                kept = max(spaces, key=lambda s: (_break_strength(text[s[1] : s[2]]), -s[1]))
        _attach_whitespace(gap, kept, cuts)
    return sorted(((start, end, ordered[number]) for number, (start, end) in cuts.items()), key=lambda c: c[0])


_SPACES = re.compile(r"\s*")


def _gap(text: str, ordered: list[Removal], number: int) -> tuple[list[tuple[Any, ...]], int, bool]:
    """The gap around removal `number`: the whitespace and removals between the kept words on
    either side, as segments ("W", start, end) and ("R", number, start, end) in text order; the
    number of the first removal after it; and whether kept words bound it on both sides.

    Only the text around removals is looked at (a document's words are not all tokenised).
    """
    start = ordered[number].start
    left = start
    while left > 0 and text[left - 1].isspace():
        left -= 1
    segments: list[tuple[Any, ...]] = [("W", left, start)] if left < start else []
    while True:
        removal = ordered[number]
        segments.append(("R", number, removal.start, removal.end))
        position = removal.end
        spaces_end = _SPACES.match(text, position).end()
        number += 1
        if number < len(ordered) and ordered[number].start <= spaces_end:
            if ordered[number].start > position:
                segments.append(("W", position, ordered[number].start))
            continue
        if spaces_end > position:
            segments.append(("W", position, spaces_end))
        return segments, number, left > 0 and spaces_end < len(text)


def _attach_whitespace(gap: list[tuple[Any, ...]], kept: tuple[Any, ...] | None, cuts: dict[int, list[int]]) -> None:
    """Give each cut whitespace run of a gap to the removal before it (or, first of all, after it)."""
    pending: list[tuple[int, int]] = []
    owner: list[int] | None = None
    for segment in gap:
        if segment[0] == "R":
            _, number, start, end = segment
            owner = cuts.setdefault(number, [start, end])
            for start, _end in pending:
                owner[0] = min(owner[0], start)
            pending = []
        elif segment is not kept:
            if owner is None:
                pending.append((segment[1], segment[2]))
            else:
                owner[1] = max(owner[1], segment[2])
        else:
            owner = None
            pending = []


def cut_text(text: str, cuts: list[tuple[int, int, Removal]]) -> str:
    """Return the text with the cut spans taken out."""
    parts = []
    position = 0
    for start, end, _ in cuts:
        parts.append(text[position:start])
        position = end
    parts.append(text[position:])
    return "".join(parts)


def rebuild_text(cleaned: str, removed: list[dict[str, Any]]) -> str:
    """Put the removed spans of a `docs.jsonl` record back into its cleaned text.

    >>> rebuild_text("keep\\n\\nkeep", [{"start": 6, "end": 12, "text": "cut!\\n\\n"}])
    'keep\\n\\ncut!\\n\\nkeep'
    """
    parts = []
    position = 0
    taken = 0
    for span in sorted(removed, key=lambda s: s["start"]):
        kept = span["start"] - position
        parts.append(cleaned[taken : taken + kept])
        parts.append(span["text"])
        taken += kept
        position = span["end"]
    parts.append(cleaned[taken:])
    return "".join(parts)
