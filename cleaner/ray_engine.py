"""The Ray engine: the local engine's own `process_file`, as Ray tasks over blocks of files.

Imported only for `--engine ray`. It schedules and nothing else: each task runs `process_file`
(cleaner/pipeline.py) over a block of input files, at most a few blocks per CPU are in flight, and
the results come back in file order, so the output is the local engine's, byte for byte. A task
whose worker dies is run again by Ray (`max_retries`); a bad file is an error record, as locally.
Dedup then runs on the driver over the documents.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from concurrent.futures import Executor, Future
from typing import Any, Callable, Iterator, Sequence

from .cluster import probe_address, split_address
from .config import Settings
from .errors import ConfigError, EngineError
from .ingest import InputFile
from .pipeline import FileResult, blocks_in_order, file_blocks, process_block, process_file
from .rules import RuleSet

try:
    import ray
    import ray.exceptions
except ImportError:
    raise ConfigError("--engine ray needs Ray, an optional extra: pip install 'cleaner[ray]'") from None

# Blocks (`pipeline.file_blocks`, as the local engine cuts them) submitted ahead of the one being read, per CPU: bounds the results held in the object store.
IN_FLIGHT_PER_CPU = 2
# How often Ray runs a task again when its worker or node dies.
MAX_RETRIES = 3

FileProcessor = Callable[[InputFile, Settings, RuleSet], FileResult]


_process_block = ray.remote(max_retries=MAX_RETRIES)(process_block)


class RayEngine:
    """Run the per-file stages on a Ray cluster: the one at `address`, else the one this process
    already joined, else a private one on this machine (`num_cpus` CPUs, its own temp folder)
    that is stopped and removed at the end.

    `runtime_env` (Ray's: packages, environment variables ...) is given to `ray.init`, or to each
    task when this process had already started Ray. `process` is what each task runs per file;
    only tests change it (to kill a worker, say).
    """

    def __init__(
        self,
        address: str | None = None,
        num_cpus: int | None = None,
        runtime_env: dict[str, Any] | None = None,
        process: FileProcessor = process_file,
    ) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self.runtime_env = check_runtime_env(runtime_env) if runtime_env else None
        self.process = process
        self.started = False
        self.temp_dir: str | None = None
        self.cpus = 0
        self.nodes = 0
        self.depth = 0  # entered this many times; the outermost exit stops what it started

    def __enter__(self) -> RayEngine:
        self.depth += 1
        if self.depth > 1:
            return self
        if not ray.is_initialized():
            self._connect()
        self.cpus = int(ray.cluster_resources().get("CPU", 0))
        self.nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
        if self.cpus < 1:
            self.__exit__()
            raise EngineError("the Ray cluster has no CPUs to run tasks on; add worker nodes or check `ray status`")
        return self

    def _connect(self) -> None:
        options: dict[str, Any] = {"logging_level": logging.ERROR, "runtime_env": self.runtime_env}
        if self.address:
            probe_address(resolve_address(self.address), given=self.address)
            try:
                ray.init(address=self.address, **options)
            except (ConnectionError, RuntimeError, ValueError) as error:
                raise EngineError(
                    f"cannot connect to the Ray cluster at {self.address!r}: {error}; check that it is up (`ray status`), "
                    "and for a cluster with token authentication set RAY_AUTH_MODE=token and its token here"
                ) from None
        else:
            # A private temp folder per run: a killed cluster's leftovers under the shared default
            # one have made later starts fail.
            self.temp_dir = tempfile.mkdtemp(prefix="cleaner-ray-")
            ray.init(
                num_cpus=self.num_cpus,
                include_dashboard=False,
                _temp_dir=self.temp_dir,
                _node_ip_address="127.0.0.1",  # a private cluster listens on loopback only
                **options,
            )
        self.started = True

    def __exit__(self, *exc_info: object) -> None:
        self.depth = max(0, self.depth - 1)
        if self.depth:
            return
        if self.started:
            ray.shutdown()
            self.started = False
        if self.temp_dir:
            shutil.rmtree(self.temp_dir, ignore_errors=True)
            self.temp_dir = None

    def map_files(self, files: Sequence[InputFile], settings: Settings, ruleset: RuleSet) -> Iterator[FileResult]:
        """Yield `process` of each file in file order, a bounded number of blocks in flight."""
        process, settings_ref, ruleset_ref = (ray.put(value) for value in (self.process, settings, ruleset))
        task = self._with_runtime_env(_process_block)
        tasks = (task.remote(block, settings_ref, ruleset_ref, process) for block in file_blocks(files, self.cpus))
        return blocks_in_order(tasks, max(2, self.cpus * IN_FLIGHT_PER_CPU), self._get)

    def _get(self, task: ray.ObjectRef) -> list[FileResult]:
        try:
            return ray.get(task)
        except ray.exceptions.RayTaskError:
            raise  # an exception inside the stages: raised as the local engine would
        except ray.exceptions.RayError as error:
            raise EngineError(f"a Ray task was lost after {MAX_RETRIES} retries: {error}") from None

    # Dedup verifies candidate pairs in tasks over the cluster; the driver decides in keep order.
    verifies_pairs = True

    def describe(self) -> dict[str, Any]:
        return {"name": "ray", "cpus": self.cpus, "nodes": self.nodes}

    def feature_pool(self, settings: Settings) -> Executor:
        """Dedup's feature chunks and pair verification as Ray tasks; the decisions, in keep
        order, stay in this process."""
        return _RayTasks(self._with_runtime_env(_call), self.cpus)

    def _with_runtime_env(self, task: Any) -> Any:
        """A remote function with the runtime_env, when it must go with each task: this process
        joined a Ray it had already started (ray.init did not get the runtime_env)."""
        return task.options(runtime_env=self.runtime_env) if self.runtime_env and not self.started else task


class _RayTasks(Executor):
    """`Executor.submit` as Ray tasks (retried like the per-file ones); nothing to shut down.
    `workers`: the cluster's CPUs (how many tasks dedup keeps in flight follows it)."""

    def __init__(self, task: Any, workers: int) -> None:
        self.task = task
        self.workers = workers

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        return self.task.remote(fn, *args, **kwargs).future()


@ray.remote(max_retries=MAX_RETRIES)
def _call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return fn(*args, **kwargs)


def check_runtime_env(runtime_env: dict[str, Any]) -> dict[str, Any]:
    """Validate a runtime_env with Ray's own checks; a field Ray does not know is refused too
    (a typo would otherwise be ignored), unless runtime_env plugins are configured."""
    from ray.runtime_env import RuntimeEnv

    unknown = sorted(set(runtime_env) - set(RuntimeEnv.known_fields))
    if unknown and not os.environ.get("RAY_RUNTIME_ENV_PLUGINS"):
        known = ", ".join(sorted(name for name in RuntimeEnv.known_fields if not name.startswith("_")))
        raise ConfigError(f"--runtime-env has field(s) Ray does not know: {', '.join(unknown)}; known fields: {known}")
    try:
        RuntimeEnv(**runtime_env)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"--runtime-env is not a valid Ray runtime_env: {error}") from None
    return runtime_env


def resolve_address(address: str) -> str:
    """The address `ray.init(address)` will connect to, resolved as Ray does: `auto` from
    RAY_ADDRESS, else the cluster `ray start` last started on this machine; a loopback host
    as this node's address."""
    if address == "auto" and os.environ.get("RAY_ADDRESS"):
        address = os.environ["RAY_ADDRESS"]
    if address.startswith("ray://"):
        return address
    from ray._private.services import canonicalize_bootstrap_address_or_die

    try:
        return canonicalize_bootstrap_address_or_die(address)
    except ConnectionError as error:
        raise EngineError(
            f"--address auto found no Ray cluster on this machine ({error}); start one with `ray start --head`, "
            "or give the head's address (HOST:6379 or ray://HOST:10001)"
        ) from None
    except ValueError:
        split_address(address)  # raises, saying what an address looks like
        raise
