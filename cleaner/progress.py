"""Progress of a run, told stage by stage to whoever shows it (the CLI's bars)."""

from __future__ import annotations

from typing import Callable, Iterable, Iterator, TypeVar

Item = TypeVar("Item")

# progress(stage, done, total): "clean" counts input bytes; "fingerprint" (dedup's first pass),
# "dedup documents", "dedup paragraphs" and "write" count documents.
ProgressCallback = Callable[[str, int, int], None]


def reporting(
    items: Iterable[Item], stage: str, progress: ProgressCallback | None, total: int | None = None,
    counted: Callable[[Item], int] | None = None,
) -> Iterator[Item]:
    """Yield the items, telling `progress` every 1% of them and at the end (`total`: how many
    there are, when `items` cannot say; `counted`: how many each item counts for, 1 unless told)."""
    total = len(items) if total is None else total  # type: ignore[arg-type]
    step = max(1, total // 100)
    done = told = 0
    for item in items:
        yield item
        done += 1 if counted is None else counted(item)
        if progress and (done - told >= step or done == total):
            progress(stage, done, total)
            told = done
