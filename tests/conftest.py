"""Suite-wide fixtures: every test session gets its own translation cache.

Under pytest-xdist the workers of one session share it (translations and compiled modules are
written atomically, so a worker either finds a whole entry or writes its own), so a model is
translated and compiled once per session rather than once per worker.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Set before any test imports carespiral, so no test writes to the user's cache.
_run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
if _run:
    _shared = Path(tempfile.gettempdir()) / f"carespiral-test-cache-{_run}"
    _shared.mkdir(exist_ok=True)
    os.environ.setdefault("CARESPIRAL_CACHE_DIR", str(_shared))
else:
    os.environ.setdefault("CARESPIRAL_CACHE_DIR",
                          tempfile.mkdtemp(prefix="carespiral-test-cache-"))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (`--dist loadgroup`), keep together the tests of a module that share
    a module- or class-scoped fixture (an expensive fit or run is then made once, not once per
    worker); every other test is handed to whichever worker is free.

    tryfirst: before xdist's worker hook that turns the marks into the node ids' `@group`
    suffix (registered after this conftest, so otherwise called first, finding no mark);
    `_GroupIds` below adds the suffix where that hook cannot (pytest 9)."""
    shared = {"module", "class", "package"}
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None:
            continue
        scopes = {d.scope for defs in info.name2fixturedefs.values() for d in defs}
        if scopes & shared:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


class _GroupIds:
    """xdist's worker marks a grouped test by suffixing its node id with `@group` (what the
    `loadgroup` scheduler reads), by setting `item._nodeid`; from pytest 9 a node id is
    `str(item._id)`, so that suffix is lost and no test is grouped. This adds it when missing,
    after xdist's own hook (trylast), only on a `--dist loadgroup` worker."""

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config, items):
        if not getattr(config.option, "loadgroup", False):
            return
        for item in items:
            names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                            for m in item.iter_markers("xdist_group")})
            if not names or "@" in item.nodeid.rsplit("]", 1)[-1]:
                continue
            new = f"{item.nodeid}@{'_'.join(names)}"
            if hasattr(item, "_id"):
                from _pytest.nodeid import coerce_node_id

                item._id = coerce_node_id(new)
            else:
                item._nodeid = new


def pytest_configure(config):
    config.pluginmanager.register(_GroupIds(), "carespiral-xdist-group-ids")
