"""Reading every shipped data file versus answering from the in-memory cache, in one run.

    python benchmarks/data_load.py

Prints the median seconds of a full read and validation (`read_published`), of a cached
`load()` of the whole table and of a cached selection (one series for one authority), and
the ratios.
"""

from __future__ import annotations

import statistics
import time


def _median(f, n: int) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    from carespiral import data

    full = _median(data.read_published, 5)
    data.load()  # fill the cache
    cached = _median(data.load, 10)
    one = _median(lambda: data.load(series="re_referral_rate", area="haringey"), 10)
    n = len(data.load(include_variants=True))
    print(f"read and validate all files ({n} rows): {full * 1000:7.1f} ms")
    print(f"cached load() of the table:             {cached * 1000:7.1f} ms  ({full / cached:5.1f}x faster)")
    print(f"cached selection (1 series, 1 area):    {one * 1000:7.1f} ms  ({full / one:5.1f}x faster)")


if __name__ == "__main__":
    main()
