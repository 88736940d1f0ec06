"""A translation killed half-way leaves its hidden work folder in the translation cache; the next
process to open the cache removes it (and leaves those of live processes alone)."""

from __future__ import annotations

import os
import subprocess
import sys

from carespiral.pysd_runner import load


def test_a_killed_translations_work_folder_is_removed(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    pid = int(dead.stdout)  # a process that has ended
    killed = cache / f".translate.{pid}-abcdefgh.part"
    (killed / "externals").mkdir(parents=True)
    (killed / "model.py").write_text("half a module")
    trash = cache / f".old.{pid}-ijklmnop.part"
    trash.mkdir()
    live = cache / f".translate.{os.getpid()}-qrstuvwx.part"  # this process, still at work
    live.mkdir()
    monkeypatch.setenv("CARESPIRAL_CACHE_DIR", str(cache))
    m = load("workforce_spiral")
    assert not killed.exists() and not trash.exists()
    assert live.is_dir()
    assert m.load_info.translated.is_file()
    assert sorted(p.name for p in cache.iterdir() if p.name.endswith(".part")) == [live.name]
