"""Collection settings for the whole repository (tests/ and the doctests in cleaner/)."""

import os
from importlib.util import find_spec

# cleaner/ray_engine.py needs Ray, an optional extra: without it there is nothing to collect there.
collect_ignore = [] if find_spec("ray") else ["cleaner/ray_engine.py"]

# The Ray clusters the tests start listen on loopback only (Ray's own switch, read when Ray is
# imported; by default a Linux node listens on its network address).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
