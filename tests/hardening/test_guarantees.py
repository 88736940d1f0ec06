"""What the command line promises whatever goes wrong: a bug is an internal error with a saved
traceback (exit 70), Ctrl-C is exit 130, a folder whose command was killed between its sections
is refused by `report`, two commands cannot write one folder at once, and a killed run's hidden
leftovers are removed by the next run."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carespiral._atomic import INCOMPLETE, FolderClaim, atomic_path, check_complete
from carespiral.cli import app
from carespiral.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, IncompleteResultError

runner = CliRunner()
SPEC = ('model = "workforce_spiral"\nruns = 12\nchunk = 4\nseed = 3\nstop = 120\n'
        '[uncertainties]\n"Referral Rate" = [200, 450]\n')


@pytest.mark.parametrize("bug", [ZeroDivisionError("division by zero"), KeyError("Caseload"),
                                 TypeError("unsupported operand")])
def test_a_bug_is_an_internal_error_with_a_saved_traceback(monkeypatch, tmp_path, bug):
    cat = importlib.import_module("carespiral.pysd_runner.catalog")

    def broken():
        raise bug

    monkeypatch.setattr(cat, "catalog", broken)
    monkeypatch.setenv("CARESPIRAL_CRASH_DIR", str(tmp_path / "crashes"))
    r = runner.invoke(app, ["models"])
    assert r.exit_code == EXIT_INTERNAL == 70
    assert "Traceback" not in r.output
    lines = r.output.strip().splitlines()
    assert lines[0].startswith("Internal error") and type(bug).__name__ in lines[0]
    assert "report it" in r.output
    saved = list((tmp_path / "crashes").glob("carespiral-*.txt"))
    assert len(saved) == 1 and str(saved[0]) in " ".join(r.output.split())
    text = saved[0].read_text()
    assert "Traceback (most recent call last)" in text and type(bug).__name__ in text
    assert "carespiral 0." in text.splitlines()[0]  # the version, to reproduce it


def test_an_unwritable_crash_folder_still_gives_no_traceback(monkeypatch, tmp_path):
    cat = importlib.import_module("carespiral.pysd_runner.catalog")

    monkeypatch.setattr(cat, "catalog", lambda: 1 / 0)
    (tmp_path / "afile").write_text("x")
    monkeypatch.setenv("CARESPIRAL_CRASH_DIR", str(tmp_path / "afile" / "crashes"))
    r = runner.invoke(app, ["models"])
    assert r.exit_code == 70 and "Traceback" not in r.output and "Internal error" in r.output


def test_ctrl_c_is_exit_130_without_a_traceback(monkeypatch):
    cat = importlib.import_module("carespiral.pysd_runner.catalog")

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(cat, "catalog", interrupted)
    r = runner.invoke(app, ["models"])
    assert r.exit_code == EXIT_INTERRUPTED == 130
    assert "Interrupted" in r.output and "Traceback" not in r.output


def test_user_mistakes_stay_exit_2():
    r = runner.invoke(app, ["run", "no_such_model"])
    assert r.exit_code == 2 and r.output.startswith("Error: unknown model")


def _killed_between_sections(tmp_path: Path, command: list[str], section: str) -> Path:
    """Run `command` in a new process that is killed (SIGKILL) as it starts `section`."""
    out = tmp_path / "out"
    script = textwrap.dedent(f"""
        import os, signal, sys
        import carespiral.exploration as ex
        def killed(*a, **k):
            os.kill(os.getpid(), signal.SIGKILL)
        setattr(ex, {section!r}, killed)
        from carespiral.cli import main
        sys.argv = ["carespiral", *sys.argv[1:]]
        main()
    """)
    proc = subprocess.run([sys.executable, "-c", script, *command, "--out", str(out)],
                          cwd=tmp_path, capture_output=True, check=False,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    return out


def test_an_exploration_killed_before_its_sections_is_not_drawn_as_complete(tmp_path):
    (tmp_path / "spec.toml").write_text(SPEC)
    out = _killed_between_sections(tmp_path, ["explore", "spec.toml"], "discover")
    assert (out / "manifest.json").is_file()  # the experiments were saved ...
    assert not (out / "discovery").exists()  # ... and the command died before its sections
    assert (out / INCOMPLETE).is_file()
    r = runner.invoke(app, ["report", str(out)])
    assert r.exit_code == 2 and "was left incomplete" in r.output, r.output
    assert not (out / "report.html").exists()
    # continuing it finishes the folder, which then reads as complete
    r = runner.invoke(app, ["explore", str(tmp_path / "spec.toml"), "--out", str(out),
                            "--resume"])
    assert r.exit_code == 0, r.output
    assert not (out / INCOMPLETE).exists() and (out / "discovery" / "manifest.json").is_file()
    check_complete(out)
    assert runner.invoke(app, ["report", str(out)]).exit_code == 0


def test_a_tipping_analysis_killed_between_sections_is_refused(tmp_path):
    out = _killed_between_sections(
        tmp_path, ["tipping", "workforce_spiral", "--param", "Referral Rate", "--points", "3"],
        "sweep")
    assert (out / "bifurcation" / "manifest.json").is_file() and not (out / "sweep").exists()
    r = runner.invoke(app, ["report", str(out)])
    assert r.exit_code == 2 and "was left incomplete" in r.output
    with pytest.raises(IncompleteResultError):
        from carespiral.results import load_result

        load_result(out / "bifurcation")


def test_two_commands_cannot_write_one_folder(tmp_path):
    """A second calibrate --out into a folder another process is writing is refused at once."""
    spec = Path(__file__).resolve().parents[2] / "models" / "specs" / "national.toml"
    target = tmp_path / "cal"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys\nfrom carespiral._atomic import FolderClaim\n"
         f"with FolderClaim({str(target)!r}, 'carespiral calibrate national'):\n"
         "    print('held', flush=True)\n    sys.stdin.read()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        for extra in ([], ["--force"]):
            r = runner.invoke(app, ["calibrate", str(spec), "--out", str(target), *extra])
            assert r.exit_code == 2, r.output
            assert "another carespiral process is writing this folder" in r.output
    finally:
        holder.communicate("")
    assert holder.returncode == 0
    # once it has finished, the folder is free (and complete)
    check_complete(target)
    with FolderClaim(target):
        pass


def test_a_killed_runs_leftovers_are_removed_by_the_next_run(tmp_path, monkeypatch):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    pid = int(dead.stdout)  # a process that has ended
    leftover = tmp_path / f".runs.csv.{pid}-abcdefgh.part"
    leftover_dir = tmp_path / f".old.{pid}-ijklmnop.part"
    leftover.write_text("half a table")
    leftover_dir.mkdir()
    (leftover_dir / "x").write_text("x")
    live = tmp_path / f".other.csv.{os.getpid()}-qrstuvwx.part"  # being written now: kept
    live.write_text("in progress")
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["run", "workforce_spiral", "--stop", "12", "--out", "runs.csv"])
    assert r.exit_code == 0, r.output
    assert not leftover.exists() and not leftover_dir.exists()
    assert live.exists() and (tmp_path / "runs.csv").is_file()


def test_a_failed_write_leaves_no_part_file(tmp_path):
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "x.csv") as tmp:
        tmp.write_text("half")
        raise RuntimeError("stopped")
    assert list(tmp_path.iterdir()) == []


def test_every_error_class_is_documented():
    """docs/errors.md lists every CarespiralError subclass defined anywhere in the package."""
    import ast
    import tomllib

    root = Path(__file__).resolve().parents[2]
    dirs = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-dir"].values()
    bases: dict[str, set[str]] = {}
    for folder in dirs:
        for path in (root / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ClassDef):
                    bases[node.name] = {b.id if isinstance(b, ast.Name) else
                                        getattr(b, "attr", "") for b in node.bases}
    errors = {"CarespiralError"}
    while True:
        more = {name for name, b in bases.items() if b & errors} - errors
        if not more:
            break
        errors |= more
    assert len(errors) >= 10, errors  # the scan found the classes of carespiral.errors
    doc = (root / "docs" / "errors.md").read_text(encoding="utf-8")
    assert not [e for e in sorted(errors) if f"`{e}`" not in doc]
