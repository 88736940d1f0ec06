"""The numba engine's cached modules: written whole through carespiral._atomic (a killed
writer's temporary is removed by the next write), and never trusted: a cached module whose text
is not the generated source (edited, truncated, emptied) is written again before it is imported,
so nothing but the generated code runs."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from carespiral.pysd_runner.batch import compile_model, numba_engine

MODEL = """{UTF-8}
Rate=
\t3
\t~\tWidgets/Month [0,10]
\t~\tThe rate.
\t|

Stock= INTEG (Rate, 0)
\t~\tWidgets
\t~\tAccumulates the rate.
\t|

FINAL TIME  = 12
\t~\tMonth
\t~\t
\t|

INITIAL TIME  = 0
\t~\tMonth
\t~\t
\t|

SAVEPER  = 1
\t~\tMonth [0,?]
\t~\t
\t|

TIME STEP  = 1
\t~\tMonth [0,?]
\t~\t
\t|
"""


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """A tiny model run once on numba in a private cache; its generated code and module file."""
    root = tmp_path_factory.mktemp("numba_cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("CARESPIRAL_CACHE_DIR", str(root / "cache"))
    path = root / "tiny.mdl"
    path.write_text(MODEL, encoding="utf-8")
    numba_folder = root / "cache" / "numba"
    numba_folder.mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    leftover = numba_folder / f".carespiral_numba_x.py.{int(dead.stdout)}-abcdefgh.part"
    leftover.write_text("half a module")  # a writer killed mid-write
    bm = compile_model(path)
    out = bm.run(pd.DataFrame({"Rate": [1.0, 2.0]}), engine="numba")
    (gen, _), = bm._gen.values()
    module = next(numba_folder.glob("carespiral_numba_*.py"))
    yield gen, module, out, leftover
    mp.undo()


def test_the_module_is_written_whole_and_a_dead_writers_temporary_removed(compiled):
    gen, module, out, leftover = compiled
    assert module.read_text(encoding="utf-8") == gen.source
    assert not leftover.exists()
    assert not [p.name for p in module.parent.iterdir() if p.name.endswith((".part", ".tmp"))]
    np.testing.assert_array_equal(out["Stock"].sel(time=12).values, [12.0, 24.0])


@pytest.mark.parametrize("damage", ["edited", "truncated", "empty"])
def test_a_damaged_or_edited_module_is_written_again_not_run(compiled, tmp_path, damage):
    gen, module, _, _ = compiled
    marker = tmp_path / "RAN"
    text = gen.source
    module.write_text({
        "edited": f"open({str(marker)!r}, 'w').close()\n" + text,
        "truncated": text[: len(text) // 2],
        "empty": "",
    }[damage], encoding="utf-8")
    name = module.stem
    held = sys.modules.pop(name)  # as a new process would: nothing of it imported yet
    try:
        simulate = numba_engine.load(gen)
    finally:
        sys.modules[name] = held
    assert not marker.exists()
    assert module.read_text(encoding="utf-8") == gen.source
    assert callable(simulate)
    assert os.access(module, os.R_OK)
