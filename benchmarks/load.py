"""Cached versus uncached model load, in one run on one machine.

    python benchmarks/load.py [MODEL ...]

Prints the median seconds of an uncached load (fresh cache directory each time: PySD translates
the .mdl) and a cached load (translation reused), and their ratio.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time


def main(names: list[str]) -> None:
    from carespiral.pysd_runner import load

    for name in names:
        uncached, cached = [], []
        for _ in range(5):
            with tempfile.TemporaryDirectory() as cache:
                os.environ["CARESPIRAL_CACHE_DIR"] = cache
                t = time.perf_counter()
                load(name)
                uncached.append(time.perf_counter() - t)
                for _ in range(3):
                    t = time.perf_counter()
                    load(name)
                    cached.append(time.perf_counter() - t)
        u, c = statistics.median(uncached), statistics.median(cached)
        print(f"{name:20s} uncached {u * 1000:8.1f} ms   cached {c * 1000:7.1f} ms   ratio {u / c:6.1f}x")


if __name__ == "__main__":
    main(sys.argv[1:] or ["workforce_spiral", "failure_demand"])
