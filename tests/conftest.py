"""Suite-wide fixtures: every test session gets its own translation cache.

Under pytest-xdist the workers of one session share it (translations and compiled modules are
written atomically, so a worker either finds a whole entry or writes its own), so a model is
translated and compiled once per session rather than once per worker.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Set before any test imports carespiral, so no test writes to the user's cache.
_run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
if _run:
    _shared = Path(tempfile.gettempdir()) / f"carespiral-test-cache-{_run}"
    _shared.mkdir(exist_ok=True)
    os.environ.setdefault("CARESPIRAL_CACHE_DIR", str(_shared))
else:
    os.environ.setdefault("CARESPIRAL_CACHE_DIR",
                          tempfile.mkdtemp(prefix="carespiral-test-cache-"))


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (`--dist loadgroup`), keep together the tests of a module that share
    a module- or class-scoped fixture (an expensive fit or run is then made once, not once per
    worker); every other test is handed to whichever worker is free."""
    import pytest

    shared = {"module", "class", "package"}
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None:
            continue
        scopes = {d.scope for defs in info.name2fixturedefs.values() for d in defs}
        if scopes & shared:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
