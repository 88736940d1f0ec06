"""How big a run may be: steps and memory are estimated before anything starts.

A run whose integration steps or estimated result size exceed a limit is refused with both
figures, instead of running for hours or dying of memory. The limits:

- `CARESPIRAL_MAX_STEPS` integration steps per run (default 5,000,000: a monthly model with a
  time step of a day over 10,000 years);
- `CARESPIRAL_MAX_MEMORY` bytes for the values a run or batch keeps (default half the
  machine's memory, at most 16 GiB).

Both are environment variables, so they can be raised for one command:
`CARESPIRAL_MAX_STEPS=50000000 carespiral run ...`.
"""

from __future__ import annotations

import os

from carespiral.errors import CarespiralError, RunTooLargeError

__all__ = ["check_size", "max_bytes", "max_steps"]

DEFAULT_MAX_STEPS = 5_000_000
BYTES_PER_VALUE = 8
OVERHEAD = 3  # copies a result goes through (arrays, tables, files)


def max_steps() -> int:
    return _env_int("CARESPIRAL_MAX_STEPS", DEFAULT_MAX_STEPS)


def max_bytes() -> int:
    try:
        physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        physical = 8 * 2**30
    return _env_int("CARESPIRAL_MAX_MEMORY", min(physical // 2, 16 * 2**30))


def check_size(steps: float, values: float, what: str, how: str) -> None:
    """Refuse `what` if it takes more than `max_steps()` integration steps per run or keeps
    more than `max_bytes()` (from `values`, the number of floating-point values it keeps).
    `how` says how the figures arise (e.g. "(600 - 0) / 0.25")."""
    limit = max_steps()
    if steps > limit:
        raise RunTooLargeError(
            f"{what} would take {steps:,.0f} integration steps per run {how}, over the limit "
            f"of {limit:,}; use a larger time step or a shorter run (or raise the limit with "
            "CARESPIRAL_MAX_STEPS)")
    need = values * BYTES_PER_VALUE * OVERHEAD
    cap = max_bytes()
    if need > cap:
        raise RunTooLargeError(
            f"{what} would keep about {_size(need)} of results, over the limit of {_size(cap)}; "
            "save less often (saveper), keep fewer outputs, summarise with reduce, or run "
            "fewer runs (or raise the limit with CARESPIRAL_MAX_MEMORY, in bytes)")


def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    raise AssertionError


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip().replace("_", "").replace(",", "")
    if not text:
        return default
    try:
        value = int(float(text))
    except ValueError:
        raise CarespiralError(f"{name}={os.environ[name]!r}: expected a whole number") from None
    if value < 1:
        raise CarespiralError(f"{name}={value}: expected a positive number")
    return value
