"""The README's command lines keep their promises without running them: each one parses (its
command and options exist, its values have the right types), names a bundled model or spec, a
line that promises Sobol indices uses a spec whose design gives them, and the export line reads
the folder the main job writes. (The Python examples run in tests/core/test_examples.py.)"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest
import typer.main

from carespiral.cli import app
from carespiral.pysd_runner.catalog import catalog

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "models" / "specs"
_BASH = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)
MODEL_COMMANDS = {"describe", "check", "run", "ensemble", "tipping", "simulator"}
SPEC_COMMANDS = {"calibrate", "explore", "optimise"}


def readme_commands(text: str) -> list[tuple[list[str], str]]:
    """(arguments after `carespiral`, the comment) of each command line of the ```bash blocks."""
    out = []
    for block in _BASH.findall(text):
        for line in block.splitlines():
            if not line.startswith("carespiral "):
                continue
            words = shlex.split(line, comments=True)
            comment = line.split("#", 1)[1].strip() if "#" in line else ""
            out.append((words[1:], comment))
    return out


COMMANDS = readme_commands((ROOT / "README.md").read_text(encoding="utf-8"))
GROUP = typer.main.get_command(app)


def parse(args: list[str]):
    """The command's parsed parameters, as the command line would see them (nothing runs)."""
    cmd = GROUP.commands[args[0]]
    rest = args[1:]
    if hasattr(cmd, "commands"):  # a group of subcommands (`data list`)
        cmd, rest = cmd.commands[rest[0]], rest[1:]
    return cmd.make_context(args[0], list(rest)).params


def test_the_readme_shows_commands():
    assert len(COMMANDS) > 15, COMMANDS


@pytest.mark.parametrize(("args", "comment"), COMMANDS, ids=[" ".join(a[:2]) for a, _ in COMMANDS])
def test_each_readme_command_parses_and_names_what_exists(args, comment):
    params = parse(args)
    if args[0] in MODEL_COMMANDS:
        assert params["model"] in catalog(), params["model"]
    if args[0] in SPEC_COMMANDS:
        spec = SPECS / f"{params['spec']}.toml"
        assert spec.exists(), spec
        if "sobol" in comment.lower():
            design = tomllib.loads(spec.read_text(encoding="utf-8")).get("design")
            assert design == "saltelli", f"{spec.name} ({design}) gives no Sobol indices"


def test_a_mistyped_option_is_caught():
    with pytest.raises(Exception, match="No such option"):
        parse(["explore", "explore_national", "--htm"])


def test_the_export_line_reads_the_folder_the_main_job_writes():
    main = (ROOT / "scripts" / "main.sh").read_text(encoding="utf-8")
    line = next(x for x in main.splitlines() if "carespiral calibrate" in x)
    written = shlex.split(line)[shlex.split(line).index("--out") + 1]
    (export,) = [a for a, _ in COMMANDS if a[0] == "export"]
    assert parse(export)["result"] == Path(written)


def test_the_calibration_bar_keeps_its_time_estimate_on_an_80_column_terminal():
    import io

    from rich.console import Console

    from carespiral.cli._fitting import runs_bar  # the bar of calibrate and backtest

    out = io.StringIO()
    console = Console(file=out, width=80, force_terminal=True, color_system=None)
    bar, task = runs_bar("calibrating (emcee)", 51_290)
    bar.live.console = console
    bar.update(task, completed=4_000, best="-385.2")
    console.print(bar.make_tasks_table(bar.tasks))
    line = next(x for x in out.getvalue().splitlines() if "runs" in x)
    assert re.search(r"of about 51,290 runs +\S+ left about (\d+:\d\d:\d\d|-:--:--)", line), line
