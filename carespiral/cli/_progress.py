"""Progress bars with a time estimate, shared by the long commands.

`progress_bar()` is the one bar (what, bar, done of total, time so far, time left). For a step
that reports no progress of its own (one long model run, a continuation), `estimated(...)`
advances a bar by the clock against an estimate measured beforehand (a short pilot run of the
same model, `pilot_seconds`), never past 99% until the step ends, and says it is an estimate.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from carespiral.cli._common import console

__all__ = ["estimated", "pilot_seconds", "progress_bar"]


def progress_bar(counts: bool = True) -> Progress:
    """A transient bar: description, bar, done/total (if `counts`), elapsed, time left."""
    cols: list[Any] = [TextColumn("{task.description}"), BarColumn()]
    if counts:
        cols.append(MofNCompleteColumn())
    cols += [TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn()]
    return Progress(*cols, console=console, transient=True)


@contextmanager
def estimated(description: str, seconds: float | None) -> Iterator[Callable[[str], None]]:
    """A bar that fills by the clock over `seconds` (an estimate; None: elapsed time only).

    Yields a function that changes the description. The bar stops at 99% until the block
    ends, so an estimate that is too short shows as a bar waiting near its end."""
    cols: list[Any] = [TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn()]
    if seconds is not None:
        cols += [TextColumn("of about {task.fields[estimate]}")]
    with Progress(*cols, console=console, transient=True) as bar:
        est = f"{seconds:,.0f} s" if seconds is not None and seconds < 120 else (
            f"{seconds / 60:,.0f} min" if seconds is not None else "")
        task = bar.add_task(description, total=100 if seconds else None, estimate=est)
        stop = threading.Event()

        def tick() -> None:
            t0 = time.perf_counter()
            while not stop.wait(0.25):
                if seconds:
                    done = min(99.0, 100.0 * (time.perf_counter() - t0) / seconds)
                    bar.update(task, completed=done)

        thread = threading.Thread(target=tick, daemon=True)
        thread.start()
        try:
            yield lambda text: bar.update(task, description=text)
        finally:
            stop.set()
            thread.join()
            if seconds:
                bar.update(task, completed=100)


def pilot_seconds(run: Callable[[float], Any], months: float, pilot: float = 24.0
                  ) -> float | None:
    """Seconds `run(months)` should take, from timing `run(pilot)` (a short run of the same
    model with the same settings) and scaling by the months. None for a short job."""
    if months <= 2 * pilot:
        return None
    t0 = time.perf_counter()
    run(pilot)
    took = time.perf_counter() - t0
    return took * months / pilot
