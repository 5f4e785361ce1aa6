"""Progress is told stage by stage, and the terminal shows a bar per stage with its rate."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import pytest

from cleaner import Settings, clean_corpus
from conftest import REPO


def test_every_stage_reports_progress_in_order_up_to_its_total(tmp_path):
    heard: list[tuple[str, int, int]] = []
    clean_corpus([REPO / "seeds"], tmp_path / "out", Settings(workers=1), progress=lambda *event: heard.append(event))
    stages = list(dict.fromkeys(stage for stage, _, _ in heard))
    assert stages == ["clean", "fingerprint", "dedup documents", "dedup paragraphs", "write"]
    for stage in stages:
        events = [(done, total) for name, done, total in heard if name == stage]
        assert [done for done, _ in events] == sorted(done for done, _ in events)
        assert events[-1][0] == events[-1][1] > 0
    sizes = sum(path.stat().st_size for path in (REPO / "seeds").iterdir())
    assert [total for name, _, total in heard if name == "clean"][-1] == sizes
    assert [total for name, _, total in heard if name == "write"][-1] == 5


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_a_terminal_shows_a_bar_per_stage_with_rates(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    text = (REPO / "seeds").iterdir().__next__().read_text(encoding="utf-8")
    for number in range(400):
        (corpus / f"{number:04}.txt").write_text(f"Story {number} of many.\n\n{text}", encoding="utf-8")
    session = f"cleaner-progress-{time.monotonic_ns()}"
    command = f"{sys.executable} -m cleaner run {corpus} {tmp_path / 'out'} --workers 1; sleep 30"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "20", command], check=True)
    screens = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (tmp_path / "out" / "manifest.json").exists():
            screens.append(subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout)
            time.sleep(0.2)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    seen = "\n".join(screens)
    assert "clean" in seen and ("B/s" in seen or "kB/s" in seen)
