from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"

# A background paragraph and the reworded copy another article reuses (from the seeds' story).
BACKGROUND = (
    "Relations between the two former Soviet republics have been tense since 1991 when the Armenian "
    "military occupied Upper Karabakh, an internationally recognised territory of Azerbaijan."
)
EDITED = (
    "Relations between the two former Soviet nations have been tense since 1993, when Armenian forces "
    "occupied Upper Karabakh, an internationally-recognised territory of Azerbaijan."
)


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    """A private copy of the sample corpus, so tests can run cleaner inside tmp_path."""
    target = tmp_path / "seeds"
    shutil.copytree(SEEDS, target)
    return target
