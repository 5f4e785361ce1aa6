"""The Ray engine: the same output as the local engine, on a real local Ray cluster.

Marked `ray` (run them alone with `pytest -m ray`); they skip when Ray is not installed, except
the one that checks the error a user without the extra gets.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import replace
from importlib.util import find_spec
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cleaner.cli import app
from cleaner.config import Settings
from cleaner.errors import ConfigError
from cleaner.pipeline import clean_corpus, engine_for, process_file
from conftest import BACKGROUND, EDITED
from test_cli import read_docs, snapshot

needs_ray = pytest.mark.skipif(find_spec("ray") is None, reason="Ray is not installed: pip install 'cleaner[ray]'")


@pytest.fixture(scope="module")
def ray_cluster():
    """A two-CPU Ray cluster in this process, with its own temp folder (on loopback: conftest.py)."""
    import ray

    temp_dir = tempfile.mkdtemp(prefix="cleaner-ray-test-")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=200 * 1024 * 1024,
        logging_level="error",
        _temp_dir=temp_dir,
    )
    yield
    ray.shutdown()
    shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture
def corpus(seeds: Path) -> Path:
    """The seeds (which share paragraphs), a reworded copy of one, a bad file and a JSONL feed."""
    first = sorted(seeds.glob("*.txt"))[0]
    text = first.read_text(encoding="utf-8")
    (seeds / "copy.txt").write_text(text.replace("seven more villages", "7 more villages", 1), encoding="utf-8")
    (seeds / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    records = [
        {"id": f"feed-{n}", "text": f"{BACKGROUND}\n\n{EDITED}\n\nItem {n} of the feed, with a closing line of its own."}
        for n in range(12)
    ]
    (seeds / "feed.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return seeds


def run_cleaner(*args: str, cwd: Path, temp: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1", "TMPDIR": str(temp)}
    return subprocess.run([sys.executable, "-m", "cleaner", *args], cwd=cwd, capture_output=True, text=True, env=env)


@pytest.fixture
def short_temp():
    """A TMPDIR short enough for the Unix sockets Ray makes inside it (108 bytes at most)."""
    temp = Path(tempfile.mkdtemp(prefix="crt-", dir="/tmp" if os.path.isdir("/tmp") else None))
    yield temp
    shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.ray
@needs_ray
def test_engine_ray_writes_the_local_output_byte_for_byte(corpus, tmp_path, short_temp):
    temp = short_temp
    local = run_cleaner("run", str(corpus), "local", "-q", "--workers", "1", cwd=tmp_path, temp=temp)
    assert local.returncode == 0, local.stderr
    ray = run_cleaner("run", str(corpus), "ray", "-q", "--engine", "ray", "--workers", "2", cwd=tmp_path, temp=temp)
    assert ray.returncode == 0, ray.stderr
    assert ray.stderr == local.stderr  # the bad file's warning, and nothing from Ray
    outputs = snapshot(tmp_path / "local"), snapshot(tmp_path / "ray")
    manifests = [json.loads(output.pop("manifest.json")) for output in outputs]
    assert outputs[0] == outputs[1]
    assert [manifest["engine"] for manifest in manifests] == [
        {"name": "local", "cpus": 1, "nodes": 1},
        {"name": "ray", "cpus": 2, "nodes": 1},
    ]
    counts = manifests[1]["counts"]
    assert counts == manifests[0]["counts"] and counts["error"] == 1 and counts["dropped"] == 12  # 11 feed items, copy.txt
    errors = [doc for doc in read_docs(tmp_path / "ray") if doc["status"] == "error"]
    assert [(doc["id"], doc["reason"]["name"]) for doc in errors] == [("image", "binary")]
    assert list(temp.iterdir()) == []  # the run's private Ray folder is gone


@pytest.mark.ray
@needs_ray
def test_a_worker_killed_mid_run_is_retried_and_the_output_is_identical(ray_cluster, corpus, tmp_path):
    from cleaner.ray_engine import RayEngine

    marker = tmp_path / "killed"
    victim = sorted(corpus.iterdir())[3].name

    def kill_once(file, settings, ruleset):
        if file.path.name == victim and not marker.exists():
            marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return process_file(file, settings, ruleset)

    settings = Settings(workers=2)
    clean_corpus([corpus], tmp_path / "local", settings)
    result = clean_corpus([corpus], tmp_path / "ray", settings, engine=RayEngine(process=kill_once))
    assert marker.exists()
    outputs = snapshot(tmp_path / "local"), snapshot(tmp_path / "ray")
    for output in outputs:
        output.pop("manifest.json")
    assert outputs[0] == outputs[1]
    assert result.manifest["engine"] == {"name": "ray", "cpus": 2, "nodes": 1}
    assert [doc.id for doc in result.errors] == ["image"]


@pytest.mark.ray
@needs_ray
def test_dedup_features_verification_and_components_are_ray_tasks_and_the_output_is_identical(ray_cluster, corpus, tmp_path, monkeypatch):
    """Dedup's features (signatures, band keys) come from Ray tasks, chunk by chunk, and so
    does the verification of candidate pairs, while the decisions are made in order on the
    driver; with split_components, whole components are decided in Ray tasks instead. The same
    output as the local engine, which matches item after item."""
    from cleaner import dedup
    from cleaner.ray_engine import RayEngine, _RayTasks

    monkeypatch.setattr(dedup, "FEATURE_POOL_DOCUMENTS", 0)  # this small corpus too
    monkeypatch.setattr(dedup, "FEATURE_CHUNK", 5)
    levels: list[str] = []
    submit = _RayTasks.submit
    monkeypatch.setattr(_RayTasks, "submit", lambda self, fn, *args: levels.append((fn.__name__, args[1])) or submit(self, fn, *args))
    settings = Settings(workers=2)
    clean_corpus([corpus], tmp_path / "local", settings)
    clean_corpus([corpus], tmp_path / "ray", settings, engine=RayEngine())
    clean_corpus([corpus], tmp_path / "split", replace(settings, split_components=True), engine=RayEngine())
    outputs = snapshot(tmp_path / "local"), snapshot(tmp_path / "ray"), snapshot(tmp_path / "split")
    for output in outputs:
        output.pop("manifest.json")
    assert outputs[0] == outputs[1] == outputs[2]
    tasks = ("chunk_features", "verify_pairs", "decide_components")
    assert {(name, level) for name in tasks for level in ("document", "paragraph")} == set(levels)
    assert len(levels) > 8


@pytest.mark.ray
@needs_ray
def test_ray_tasks_read_http_inputs_with_the_runtime_env_and_write_the_local_output(ray_cluster, corpus, tmp_path):
    from http_server import serve_folder

    from cleaner.ray_engine import RayEngine

    def needs_the_runtime_env(file, settings, ruleset):  # nested: Ray ships it by value
        if os.environ.get("CLEANER_TEST_RUNTIME_ENV") != "on":
            raise RuntimeError("the task did not get the runtime_env's env_vars")
        return process_file(file, settings, ruleset)

    settings = Settings(workers=2)
    clean_corpus([corpus], tmp_path / "local", settings)
    engine = RayEngine(runtime_env={"env_vars": {"CLEANER_TEST_RUNTIME_ENV": "on"}}, process=needs_the_runtime_env)
    with serve_folder(corpus) as url:
        result = clean_corpus([url], tmp_path / "ray", settings, engine=engine)
    outputs = snapshot(tmp_path / "local"), snapshot(tmp_path / "ray")
    for output in outputs:
        output.pop("manifest.json")
    assert outputs[0] == outputs[1]
    assert result.manifest["inputs"]["paths"] == [url]
    assert [doc.id for doc in result.errors] == ["image"]


def test_engine_ray_without_ray_installed_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if it were missing
    monkeypatch.delitem(sys.modules, "cleaner.ray_engine", raising=False)
    with pytest.raises(ConfigError, match=r"pip install 'cleaner\[ray\]'"):
        engine_for(Settings(engine="ray"))
    (tmp_path / "in.txt").write_text("A short article.", encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(tmp_path / "in.txt"), str(tmp_path / "out"), "--engine", "ray"])
    assert result.exit_code == 2
    assert result.stderr == "cleaner: error: --engine ray needs Ray, an optional extra: pip install 'cleaner[ray]'\n"
    assert not (tmp_path / "out").exists()
