"""s3:// inputs and outputs on a real S3 API: moto's server on loopback, read and written by s3fs
(boto's own signing, multipart uploads, listing by prefix), as a run against AWS or MinIO would
be. Skipped with a reason where s3fs or moto is not installed (`.ci/run` installs both)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from test_remote import corpus, outputs_match

s3fs = pytest.importorskip("s3fs", reason="s3:// needs s3fs: pip install s3fs")
moto_server = pytest.importorskip("moto.moto_server.threaded_moto_server", reason="the S3 tests serve S3 with moto: pip install 'moto[server]'")


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """An S3 API on loopback, for this module's tests."""
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[s3fs.S3FileSystem, str, dict[str, str]]]:
    """A fresh bucket, a client of it, and the environment that gives a run its endpoint and keys
    (fsspec's FSSPEC_S3, as a user would set it), with no other AWS settings of this machine."""
    options = {"endpoint_url": s3_endpoint, "key": "testing", "secret": "testing", "client_kwargs": {"region_name": "eu-west-1"}}
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "FSSPEC"))}
    env["FSSPEC_S3"] = json.dumps(options)
    env["AWS_EC2_METADATA_DISABLED"] = "true"  # no probe of a metadata service for credentials
    fs = s3fs.S3FileSystem(skip_instance_cache=True, **options)
    bucket = f"news-{uuid.uuid4().hex[:8]}"
    fs.mkdir(bucket)
    yield fs, bucket, env
    fs.rm(bucket, recursive=True)


def _run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cleaner", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


def _bucket_files(fs: s3fs.S3FileSystem, prefix: str) -> dict[str, bytes]:
    fs.invalidate_cache()
    return {name[len(prefix) + 1 :]: fs.cat_file(name) for name in sorted(fs.find(prefix))}


def test_a_run_from_s3_to_s3_writes_the_local_output_byte_for_byte(tmp_path, s3):
    fs, bucket, env = s3
    root = corpus(tmp_path / "in")
    fs.put(str(root) + "/", f"{bucket}/in/", recursive=True)
    local = _run("run", str(root), str(tmp_path / "local"), "-q", "-w", "2", env=env, cwd=tmp_path)
    remote = _run("run", f"s3://{bucket}/in/", f"s3://{bucket}/out", "-q", "-w", "2", env=env, cwd=tmp_path)
    assert (local.returncode, local.stderr, remote.returncode, remote.stderr) == (0, "", 0, "")
    files = _bucket_files(fs, f"{bucket}/out")
    outputs_match(tmp_path / "local", files)
    assert json.loads(files["manifest.json"])["inputs"]["paths"] == [f"s3://{bucket}/in/"]
    assert not [name for name in fs.ls(bucket) if "cleaner-tmp" in name]  # the staging prefix is gone

    # The gate reads the bucket as the folder, finding for finding; a report lands in OUT.
    checks = [_run("check", where, "--exit-zero", "--output-format", "json", env=env, cwd=tmp_path) for where in (str(root), f"s3://{bucket}/in/")]
    assert [check.returncode for check in checks] == [0, 0], checks[1].stderr
    local_findings, s3_findings = (json.loads(check.stdout)["findings"] for check in checks)
    for finding in local_findings:  # a finding names its file as given (fingerprints hash that name)
        finding["path"] = f"s3://{bucket}/" + finding.pop("path")
        del finding["fingerprint"]
    assert [{k: v for k, v in finding.items() if k != "fingerprint"} for finding in s3_findings] == local_findings
    assert len(local_findings) > 10
    report = _run("report", f"s3://{bucket}/out", env=env, cwd=tmp_path)
    assert (report.returncode, report.stderr) == (0, "")
    assert "report.html" in _bucket_files(fs, f"{bucket}/out")


def test_a_bucket_the_store_does_not_show_is_a_clear_error_naming_its_options(tmp_path, s3):
    fs, bucket, env = s3
    refused = _run("run", f"s3://{bucket}-missing/in/", str(tmp_path / "out"), "-q", env=env, cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.startswith(f"cleaner: error: input 's3://{bucket}-missing/in/' does not exist, or the store refused to show it")
    assert "FSSPEC_S3" in refused.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.ray
def test_the_ray_engine_reads_and_writes_s3_as_the_local_engine(tmp_path, s3):
    """Ray's workers read the inputs from the store themselves (FSSPEC_S3 reaches them from the
    driver's environment, as on a cluster started with the same environment)."""
    pytest.importorskip("ray", reason="the Ray engine needs the ray extra: pip install 'cleaner[ray]'")
    fs, bucket, env = s3
    root = corpus(tmp_path / "in")
    fs.put(str(root) + "/", f"{bucket}/in/", recursive=True)
    local = _run("run", str(root), str(tmp_path / "local"), "-q", "-w", "2", env=env, cwd=tmp_path)
    remote = _run("run", f"s3://{bucket}/in/", f"s3://{bucket}/ray-out", "-q", "--engine", "ray", "-w", "2", env=env, cwd=tmp_path)
    assert (local.returncode, remote.returncode) == (0, 0), remote.stderr
    files = _bucket_files(fs, f"{bucket}/ray-out")
    outputs_match(tmp_path / "local", files)
    assert json.loads(files["manifest.json"])["engine"]["name"] == "ray"
