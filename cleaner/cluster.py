"""What the Ray engine checks before it asks Ray for anything: the runtime_env and the address.

Kept free of Ray, so the checks run (and are tested) without it. `ray.init` on an address nothing
answers on retries for minutes before it fails; `probe_address` fails in seconds instead, naming
the address and what to check.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from .errors import ConfigError, EngineError

# A cluster's head answers a TCP connection at once; a few seconds cover a slow network.
PROBE_TIMEOUT = 3.0
GCS_PORT = 6379
CLIENT_PORT = 10001


def parse_runtime_env(value: str) -> dict[str, Any]:
    """Read Ray's runtime_env from `--runtime-env`: a JSON object, or a .json/.yaml/.yml file.

    >>> parse_runtime_env('{"pip": ["cleaner[ray]==0.1.0"]}')
    {'pip': ['cleaner[ray]==0.1.0']}
    """
    text = value.strip()
    if text.startswith("{"):
        where = "--runtime-env"
        try:
            loaded = json.loads(text)
        except ValueError as error:
            raise ConfigError(f"{where} is not valid JSON ({error}); give a JSON object such as '{{\"pip\": [\"cleaner[ray]\"]}}' or a .json/.yaml file") from None
    else:
        path = Path(text)
        where = f"--runtime-env file {text!r}"
        if path.suffix.lower() not in (".json", ".yaml", ".yml"):
            raise ConfigError(f"--runtime-env must be a JSON object or a path to a .json, .yaml or .yml file, not {value!r}")
        try:
            content = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"{where} cannot be read: {getattr(error, 'strerror', None) or error}; check the path") from None
        loaded = _load_file(content, path, where)
    if not isinstance(loaded, dict):
        raise ConfigError(f"{where} must hold a JSON/YAML object (a mapping such as {{\"pip\": [...]}}), not {type(loaded).__name__}")
    return loaded


def _load_file(content: str, path: Path, where: str) -> Any:
    if path.suffix.lower() == ".json":
        try:
            return json.loads(content)
        except ValueError as error:
            raise ConfigError(f"{where} is not valid JSON: {error}") from None
    try:
        import yaml  # PyYAML: installed with Ray
    except ImportError:
        raise ConfigError(f"{where} is YAML, which needs PyYAML (installed with the ray extra: pip install 'cleaner[ray]')") from None
    try:
        return yaml.safe_load(content)
    except yaml.YAMLError as error:
        raise ConfigError(f"{where} is not valid YAML: {error}") from None


def split_address(address: str) -> tuple[str, int, str]:
    """Return (host, port, what the port is) for a Ray address: HOST:PORT (the head's GCS) or
    ray://HOST[:PORT] (its Ray Client server).

    >>> split_address("10.0.0.5:6379"), split_address("ray://head"), split_address("[::1]:7000")
    (('10.0.0.5', 6379, 'GCS'), ('head', 10001, 'Ray Client server'), ('::1', 7000, 'GCS'))
    """
    client = address.startswith("ray://")
    rest = address[len("ray://") :] if client else address
    rest = rest.split("/", 1)[0]
    host, colon, port_text = rest.rpartition(":") if not rest.endswith("]") else (rest, "", "")
    if not colon:
        host, port_text = rest, ""
    host = host.strip("[]")
    what = "Ray Client server" if client else "GCS"
    if not port_text and client:
        return host, CLIENT_PORT, what
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError(
            f"address {address!r} is not a Ray address; give auto, HOST:PORT (the head's GCS port, {GCS_PORT} by default) "
            f"or ray://HOST:PORT (its Ray Client port, {CLIENT_PORT} by default)"
        )
    return host, int(port_text), what


def probe_address(address: str, timeout: float = PROBE_TIMEOUT, given: str | None = None) -> None:
    """Fail fast, naming the address, when nothing accepts a TCP connection there.

    `given` is what the user wrote when `address` was resolved from it (`auto`).
    """
    host, port, what = split_address(address)
    named = address if given in (None, address) else f"{address} (from --address {given})"
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return
    except socket.gaierror as error:
        problem = f"the host name {host!r} does not resolve ({error.strerror or error})"
    except TimeoutError:
        problem = f"no answer from {host}:{port} within {timeout:g} s"
    except OSError as error:
        problem = f"{host}:{port} refused the connection" if isinstance(error, ConnectionRefusedError) else f"{host}:{port}: {error.strerror or error}"
    default = CLIENT_PORT if what == "Ray Client server" else GCS_PORT
    raise EngineError(
        f"cannot reach the Ray cluster at {named}: {problem}; check that the cluster is up (`ray status` on its head node), "
        f"that {port} is its {what} port ({default} unless `ray start --head` was given another) and that no firewall is in between"
    )
