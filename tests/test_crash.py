"""Crash safety: SIGKILL a real `cleaner run` at several moments, then look at what it left.

Each case starts `cleaner run IN OUT` as a subprocess over a corpus big enough to run for a
second or two, into a fresh OUT or over OUT holding a previous complete run, and kills it with
SIGKILL (the whole process group) at one moment: a measured delay, or as soon as the folder
beside OUT shows the run has reached a stage (per-file results kept, every file done, the
staging folder begun). No hook inside cleaner is needed. Afterwards:

- OUT is the previous complete output, byte for byte, or absent (fresh) - never a partial corpus;
- `cleaner verify` and `cleaner explain` say a run was interrupted where OUT is not complete, and
  `cleaner dupes` finds no manifest there to take its inputs from;
- `cleaner run --resume` then finishes the run, and its output equals an uninterrupted run's.

`PHASES` below lists the moments; run with `-s` to see where each kill landed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest
from typer.testing import CliRunner

from cleaner import Settings, clean_corpus
from cleaner.cli import app
from cleaner.ingest import discover
from cleaner.resume import cache_folder
from cleaner.verify import verify_output

from conftest import SEEDS
from test_reliability import generated_corpus, snapshot

STORIES = 50
POLL_SECONDS = 0.001


class Run:
    """A `cleaner run` subprocess into `out`, and what the folder beside it shows of its progress."""

    def __init__(self, inputs: list[Path], out: Path, workers: int = 1) -> None:
        self.files = len(discover(inputs).files)
        command = [sys.executable, "-m", "cleaner", "run", *map(str, inputs), str(out), "--quiet", "--isolated", f"--workers={workers}"]
        self.out = out
        self.started = time.perf_counter()
        self.process = subprocess.Popen(command, cwd=out.parent, start_new_session=True, stderr=subprocess.PIPE)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def cached(self) -> int:
        folder = cache_folder(self.out)
        return sum(1 for entry in os.scandir(folder) if entry.name.endswith(".json")) if folder.is_dir() else 0

    def staging(self) -> bool:
        return any(self.out.parent.glob(f".{self.out.name}.cleaner-tmp-*"))

    def kill_when(self, moment: Callable[[Run], bool], timeout: float = 120) -> bool:
        """SIGKILL the run as soon as `moment(run)` holds; False when it finished first."""
        while self.process.poll() is None:
            if moment(self):
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
                return True
            if self.elapsed() > timeout:
                os.killpg(self.process.pid, signal.SIGKILL)
                raise AssertionError(f"cleaner run did not finish in {timeout} s")
            time.sleep(POLL_SECONDS)
        assert self.process.returncode == 0, self.process.stderr.read()
        return False


def landed(out: Path, files: int, before: dict[str, bytes] | None) -> str:
    """Name the stage a killed run had reached, from what it left in and beside OUT."""
    if out.exists() and (before is None or full_snapshot(out) != before):
        return "clean-up (new output in place)"
    if any(out.parent.glob(f".{out.name}.cleaner-old-*")):
        return "swap (between the two renames)"
    if any(out.parent.glob(f".{out.name}.cleaner-tmp-*")):
        return "write (staging folder begun)"
    folder = cache_folder(out)
    cached = len(list(folder.glob("*.json"))) if folder.is_dir() else 0
    if cached == files:
        return f"dedup (all {files} files done)"
    if cached:
        return f"per-file stages ({cached}/{files} files done)"
    return "start-up (nothing written)"


# Moments to kill at: (name, moment, the stage the kill must land in or None for any).
PHASES: list[tuple[str, Callable[[Run], bool] | str, str | None]] = [
    ("0.1 s", lambda run: run.elapsed() > 0.1, "start-up"),
    ("a third of the files done", lambda run: run.cached() >= run.files // 3, "per-file stages"),
    ("every file done", lambda run: run.cached() == run.files and not run.staging(), "dedup"),
    ("staging folder begun", lambda run: run.staging(), "write"),
    ("50% of an uninterrupted run", "0.5", None),
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The inputs, an uninterrupted run's output and wall time, and a previous output of other inputs."""
    root = tmp_path_factory.mktemp("crash")
    inputs = generated_corpus(root / "in", stories=STORIES)
    reference = root / "reference"
    run = Run(inputs, reference)
    assert run.kill_when(lambda run: False) is False
    wall = run.elapsed()
    previous = root / "previous"
    clean_corpus([SEEDS], previous, Settings())
    return inputs, reference, wall, previous


def full_snapshot(out: Path) -> dict[str, bytes]:
    """Every file of OUT, the manifest without its timings (the one part that varies run to run)."""
    files = snapshot(out)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    manifest.pop("timings")
    files["manifest.json"] = json.dumps(manifest, sort_keys=True).encode()
    return files


@pytest.mark.parametrize("over", ["fresh", "previous"])
@pytest.mark.parametrize("name, moment, stage", PHASES, ids=[phase[0] for phase in PHASES])
def test_a_killed_run_leaves_the_previous_output_or_none_and_resume_finishes_it(tmp_path, corpus, over, name, moment, stage):
    inputs, reference, wall, previous = corpus
    out = tmp_path / "out"
    if isinstance(moment, str):
        delay = float(moment) * wall
        moment = lambda run: run.elapsed() > delay  # noqa: E731
    # A stage seen by polling can end before the kill lands on a busy machine: try it again.
    for _attempt in range(3):
        shutil.rmtree(tmp_path)
        tmp_path.mkdir()
        if over == "previous":
            shutil.copytree(previous, out)
        before = full_snapshot(out) if over == "previous" else None
        run = Run(inputs, out)
        killed = run.kill_when(moment)
        where = landed(out, run.files, before) if killed else "finished before the kill"
        print(f"\n{over:8} | killed at {name:28} | landed in {where}")
        if stage is None or where.startswith(stage):
            break
    assert stage is None or where.startswith(stage)
    if killed and not where.startswith("clean-up"):
        assert_previous_output_or_none(out, before)
    assert_resume_finishes(run, inputs, reference)


def test_a_run_killed_with_its_worker_processes_resumes_to_the_same_output(tmp_path, corpus):
    inputs, reference, _, _ = corpus
    run = Run(inputs, tmp_path / "out", workers=2)
    assert run.kill_when(lambda run: run.cached() >= run.files // 2)
    assert landed(run.out, run.files, None).startswith("per-file stages")
    assert_previous_output_or_none(run.out, None)
    assert_resume_finishes(run, inputs, reference)


def assert_resume_finishes(run: Run, inputs: list[Path], reference: Path) -> None:
    """`--resume` reuses every file the killed run finished and writes an uninterrupted run's bytes."""
    out = run.out
    cached = run.cached()
    result = clean_corpus(inputs, out, Settings(), resume=True)
    assert result.reused_files == cached
    assert full_snapshot(out) == full_snapshot(reference)
    assert verify_output(out) == []
    assert sorted(path.name for path in out.parent.iterdir()) == ["out"], "nothing is left beside OUT"


def assert_previous_output_or_none(out: Path, before: dict[str, bytes] | None) -> None:
    """OUT is byte for byte the previous output (or absent), and the commands say a run was cut short."""
    traces = sorted(path.name for path in out.parent.glob(".out.cleaner-*"))
    verify = CliRunner().invoke(app, ["verify", str(out)])
    explain = CliRunner().invoke(app, ["explain", str(out), "000_ec013513393c3d35"])
    if before is None:
        assert not out.exists()
        assert verify.exit_code == explain.exit_code == 2
        cwd = Path.cwd()
        try:  # `cleaner dupes` with no path reads the inputs of ./out's manifest: there is none
            os.chdir(out.parent)
            dupes = CliRunner().invoke(app, ["dupes", "--isolated"])
        finally:
            os.chdir(cwd)
        assert dupes.exit_code == 2 and "no input given" in dupes.stderr
        if traces:
            for result in (verify, explain):
                assert "was interrupted or is still going" in result.stderr
                assert "no complete output is there" in result.stderr
    else:
        assert full_snapshot(out) == before
        assert (verify.exit_code, verify.stdout) == (0, f"{out}: ok\n")
        assert explain.exit_code == 0 and explain.stdout.startswith("000_ec013513393c3d35  status: kept")
        if traces:
            assert "the folder holds the last complete output" in verify.stderr
