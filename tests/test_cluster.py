"""What the Ray engine checks before it asks Ray for anything: --runtime-env and --address.

The checks themselves need no Ray; the CLI tests that go through the Ray engine skip without it
(they start no cluster, so they are not marked `ray`).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cleaner.cli import app
from cleaner.cluster import parse_runtime_env, probe_address
from cleaner.errors import ConfigError, EngineError

needs_ray = pytest.mark.skipif(find_spec("ray") is None, reason="Ray is not installed: pip install 'cleaner[ray]'")


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_runtime_env_is_a_json_object_or_a_json_or_yaml_file(tmp_path):
    assert parse_runtime_env(' {"pip": ["cleaner[ray]==0.1.0"], "env_vars": {"A": "1"}} ') == {
        "pip": ["cleaner[ray]==0.1.0"],
        "env_vars": {"A": "1"},
    }
    (tmp_path / "env.json").write_text('{"pip": ["requests"]}', encoding="utf-8")
    assert parse_runtime_env(str(tmp_path / "env.json")) == {"pip": ["requests"]}
    if find_spec("yaml"):
        (tmp_path / "env.yaml").write_text("pip:\n  - requests\nenv_vars:\n  A: '1'\n", encoding="utf-8")
        assert parse_runtime_env(str(tmp_path / "env.yaml")) == {"pip": ["requests"], "env_vars": {"A": "1"}}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('{"pip": [', r"--runtime-env is not valid JSON \(Expecting value: line 1 column 10 \(char 9\)\); give a JSON object"),
        ("pip: [requests]", r"--runtime-env must be a JSON object or a path to a .json, .yaml or .yml file, not 'pip: \[requests\]'"),
        ("missing.json", r"--runtime-env file 'missing.json' cannot be read: No such file or directory; check the path"),
        ("list.json", r"--runtime-env file 'list.json' must hold a JSON/YAML object \(a mapping such as \{\"pip\": \[...\]\}\), not list"),
    ],
)
def test_a_bad_runtime_env_is_a_config_error_saying_what_to_give(tmp_path, monkeypatch, value, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "list.json").write_text('["requests"]', encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        parse_runtime_env(value)


def test_probe_fails_on_a_closed_port_naming_the_address_and_passes_an_open_one():
    port = closed_port()
    with pytest.raises(EngineError) as refused:
        probe_address(f"127.0.0.1:{port}")
    assert str(refused.value) == (
        f"cannot reach the Ray cluster at 127.0.0.1:{port}: 127.0.0.1:{port} refused the connection; check that the cluster "
        f"is up (`ray status` on its head node), that {port} is its GCS port (6379 unless `ray start --head` was given "
        "another) and that no firewall is in between"
    )
    with pytest.raises(EngineError, match=rf"at ray://127\.0\.0\.1:{port}: .* that {port} is its Ray Client server port \(10001 unless"):
        probe_address(f"ray://127.0.0.1:{port}")
    with pytest.raises(ConfigError, match=r"address 'head' is not a Ray address; give auto, HOST:PORT"):
        probe_address("head")
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        probe_address(f"127.0.0.1:{listening.getsockname()[1]}")
        probe_address(f"ray://127.0.0.1:{listening.getsockname()[1]}")


def test_runtime_env_without_the_ray_engine_exits_2(tmp_path):
    result = CliRunner().invoke(app, ["run", str(tmp_path), str(tmp_path / "out"), "--runtime-env", '{"pip": []}'])
    assert (result.exit_code, result.stderr) == (2, 'cleaner: error: runtime-env is for the Ray engine; add --engine ray (or engine = "ray")\n')


@needs_ray
def test_an_unreachable_address_fails_in_seconds_with_exit_2(tmp_path):
    (tmp_path / "in.txt").write_text("A short article about the weather.", encoding="utf-8")
    port = closed_port()
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    env.pop("RAY_ADDRESS", None)
    command = [sys.executable, "-m", "cleaner", "run", "in.txt", "out", "--engine", "ray", "--address", f"127.0.0.1:{port}"]
    # Without the probe Ray retries for minutes: the timeout makes that a failure, not a hang.
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2
    # Ray connects to a loopback address as this node's own address: the message names both
    assert re.fullmatch(
        rf"cleaner: error: cannot reach the Ray cluster at (?P<host>[^ ]+):{port}( \(from --address 127\.0\.0\.1:{port}\))?: "
        rf"(?P=host):{port} refused the connection; check that the cluster is up \(`ray status` on its head node\), "
        rf"that {port} is its GCS port \(6379 unless `ray start --head` was given another\) and that no firewall is in between\n",
        result.stderr,
    ), result.stderr
    assert not (tmp_path / "out").exists()
    env["RAY_ADDRESS"] = f"127.0.0.1:{port}"  # what `--address auto` resolves to first, as in Ray
    result = subprocess.run([*command[:-1], "auto"], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2
    assert re.match(rf"cleaner: error: cannot reach the Ray cluster at [^ ]+:{port} \(from --address auto\): ", result.stderr), result.stderr


@needs_ray
def test_a_runtime_env_ray_refuses_exits_2_before_any_cluster_starts(tmp_path):
    (tmp_path / "in.txt").write_text("A short article about the weather.", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(app, ["run", str(tmp_path / "in.txt"), str(tmp_path / "out"), "--engine", "ray", "--runtime-env", '{"pipp": ["x"]}'])
    assert result.exit_code == 2
    assert result.stderr.startswith("cleaner: error: --runtime-env has field(s) Ray does not know: pipp; known fields: ")
    assert "env_vars" in result.stderr and "pip" in result.stderr
    result = runner.invoke(app, ["run", str(tmp_path / "in.txt"), str(tmp_path / "out"), "--engine", "ray", "--runtime-env", '{"env_vars": {"A": 1}}'])
    assert (result.exit_code, result.stderr) == (
        2,
        "cleaner: error: --runtime-env is not a valid Ray runtime_env: runtime_env['env_vars'] must be of type Dict[str, str], "
        "but the value 1 is of type <class 'int'>\n",
    )
    assert not (tmp_path / "out").exists()
