from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    """A private copy of the sample corpus, so tests can run cleaner inside tmp_path."""
    target = tmp_path / "seeds"
    shutil.copytree(SEEDS, target)
    return target
