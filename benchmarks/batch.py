"""Benchmark of the batch backend's engines against PySD, a hand-written numpy loop and Simlin.

Both engines of the batch backend are timed: numpy (vectorised over runs) and numba (a
compiled loop over runs and steps; if numba is installed).

    python benchmarks/batch.py            # full run (a few minutes on a quiet machine)
    python benchmarks/batch.py --quick    # smaller N, for a smoke test
    python benchmarks/batch.py --goals    # only the goals: N = 10,000, one thread and all cores
    python benchmarks/batch.py --subscripted  # only the subscripted models

Everything is measured in this one process run on this machine, in CPU seconds of this
process, and reported as ratios measured in the same run (absolute speeds depend on the
machine).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "models"


def _timed(fn, repeat: int = 1) -> float:
    """Best CPU time of this process over `repeat` calls.

    CPU time rather than wall time: on a shared machine the wall clock also counts the time
    other programs hold the processor. Every engine timed here computes in this process.
    """
    best = np.inf
    for _ in range(repeat):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return best


def _wall(fn) -> float:
    """Wall time of one call: for threads, whose CPU time adds up over the cores."""
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def draws(bm, n: int, seed: int = 1) -> pd.DataFrame:
    """Uniform draws of every bounded constant, within its declared bounds."""
    rng = np.random.default_rng(seed)
    cols = {p.name: rng.uniform(p.lower, p.upper, n) for p in bm.parameters
            if p.lower is not None and p.upper is not None and p.upper > p.lower}
    return pd.DataFrame(cols)


def pysd_runs_per_second(mdl: Path, runs: int, wall: bool = False) -> float:
    """PySD's runs per second (CPU time, or wall time); constants drawn within their bounds,
    except in a subscripted model (PySD sets whole arrays; its defaults are run)."""
    import pysd

    from carespiral.pysd_runner.translate import translate

    py_file, _ = translate(mdl)
    model = pysd.load(str(py_file))
    from carespiral.pysd_runner.batch import compile_model

    bm = compile_model(mdl)
    params = draws(bm, runs, seed=2)
    if bm.subscripted:
        params = pd.DataFrame(index=range(runs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.run(params=dict(params.iloc[0]))  # warm up

        def go() -> None:
            for i in range(runs):
                model.reload()
                model.run(params=dict(params.iloc[i]))

        return runs / (_wall(go) if wall else _timed(go))


def simlin_runs_per_second(mdl: Path, runs: int) -> float | None:
    try:
        import simlin
    except ImportError:
        return None
    m = simlin.load(str(mdl))
    m.run(analyze_loops=False)

    def go() -> None:
        for _ in range(runs):
            m.run(analyze_loops=False)

    return runs / _timed(go)


def hand_written_spiral(n: int, referral_rate: np.ndarray) -> np.ndarray:
    """workforce_spiral's equations written by hand as one numpy Euler loop over n runs."""
    dt, steps = 0.25, 960
    bx = np.array([0, 0.5, 1, 1.5, 2, 2.5, 3, 4.0])
    by = np.array([0.8, 0.85, 1, 1.5, 2.3, 3.1, 3.8, 4.5])
    establishment, duration, per_fte, ref_caseload = 150.0, 10.0, 2.2, 17.0
    adjust, leave, fill, max_hire = 6.0, 0.0125, 4.0, 3.0
    cases = referral_rate * duration
    workers = np.full(n, establishment)
    burnout = np.ones(n)
    final = np.empty(n)
    for k in range(steps + 1):
        caseload = np.where(np.abs(workers) < 1e-6, 0.0, cases / workers)
        closures = np.minimum(cases / duration, workers * per_fte)
        leaving = workers * leave * np.interp(burnout, bx, by)
        hiring = np.minimum(max_hire,
                            np.maximum(0.0, establishment - workers) / fill + leaving)
        if k == steps:
            final[:] = workers
            break
        d_cases = referral_rate - closures
        d_burnout = (caseload / ref_caseload - burnout) / adjust
        d_workers = hiring - leaving
        cases = cases + d_cases * dt
        burnout = burnout + d_burnout * dt
        workers = workers + d_workers * dt
    return final


def peak_memory_million(mdl: Path, n: int) -> dict:
    """Run an n-run reduced ensemble in a fresh process; report its peak resident memory."""
    code = f"""
import resource, time, json, numpy as np, pandas as pd
from carespiral.pysd_runner.batch import compile_model
bm = compile_model({str(mdl)!r})
rng = np.random.default_rng(5)
params = pd.DataFrame({{p.name: rng.uniform(p.lower, p.upper, {n}) for p in bm.parameters
                       if p.lower is not None and p.upper is not None and p.upper > p.lower}})
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
ds = bm.run(params, reduce="final,max,min")
el = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"runs": {n}, "seconds": el, "peak_mb": peak / 1024,
                  "before_run_mb": base / 1024, "summaries": len(ds.data_vars),
                  "engine": ds.attrs["engine"]}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _spare_cores(threads: int) -> float:
    """Speed-up of a trivial compiled loop run on `threads` threads against one after another:
    about `threads` on an idle machine, less when other programs hold the cores."""
    from concurrent.futures import ThreadPoolExecutor

    import numba

    @numba.njit(nogil=True)
    def busy(n: int) -> float:
        s = 0.0
        for i in range(n):
            s += (i % 7) * 1e-9
        return s

    busy(10)
    size = 200_000_000
    serial = _wall(lambda: [busy(size) for _ in range(threads)])
    with ThreadPoolExecutor(threads) as pool:
        parallel = _wall(lambda: [f.result() for f in [pool.submit(busy, size)
                                                        for _ in range(threads)]])
    return serial / parallel


def goals(mdl: Path, bm, outs: list[str], n: int, repeats: int) -> None:
    """The speed goals on one model at N runs: the numba engine on one thread and on every core
    against PySD and Simlin, all timed in this process, interleaved `repeats` times.

    Wall time (the threads' gain is only visible in it) and CPU time are both taken for each
    contestant in every round; the fastest round of each is used, so that another program
    holding the processor during one round does not decide a ratio. Each round times PySD on one
    run, Simlin on 20 runs and the numba engine on N runs with one thread, then with one thread
    per core.
    """
    import pysd
    import simlin

    from carespiral.pysd_runner.batch.numba_engine import default_threads
    from carespiral.pysd_runner.translate import translate

    params = draws(bm, n)
    one = draws(bm, repeats, seed=2)
    bm.run(params.iloc[:10], outputs=outs, reduce="final,max", engine="numba")  # compile
    model = pysd.load(str(translate(mdl)[0]))
    sim = simlin.load(str(mdl))
    sim.run(analyze_loops=False)
    cores = default_threads()
    wall: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}

    def clock(name: str, runs: int, fn) -> None:
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.setdefault(name, []).append(runs / (time.perf_counter() - w))
        cpu.setdefault(name, []).append(runs / (time.process_time() - c))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.run(params=dict(one.iloc[0]))  # warm up
        for r in range(repeats):
            def pysd_run(r: int = r) -> None:
                model.reload()
                model.run(params=dict(one.iloc[r]))

            clock("PySD", 1, pysd_run)
            clock("Simlin", 20, lambda: [sim.run(analyze_loops=False) for _ in range(20)])
            for name, threads in (("numba, 1 thread", 1), (f"numba, {cores} threads", cores)):
                clock(name, n, lambda t=threads: bm.run(params, outputs=outs, reduce="final,max",
                                                        engine="numba", threads=t))
    best_wall = {k: max(v) for k, v in wall.items()}
    best_cpu = {k: max(v) for k, v in cpu.items()}
    print(f"goals: {mdl.stem}, N = {n:,}, {cores} cores, fastest of {repeats} interleaved "
          "rounds; runs/s")
    print(f"{'':>20} {'wall':>10} {'x PySD':>8} {'x Simlin':>9} {'CPU':>10} {'x PySD':>8}")
    for k in wall:
        print(f"{k:>20} {best_wall[k]:>10.2f} {best_wall[k] / best_wall['PySD']:>8.0f} "
              f"{best_wall[k] / best_wall['Simlin']:>9.1f} {best_cpu[k]:>10.2f} "
              f"{best_cpu[k] / best_cpu['PySD']:>8.0f}")
    print(f"threads' speed-up (wall): {best_wall[f'numba, {cores} threads'] / best_wall['numba, 1 thread']:.2f}; "
          f"control: a bare numba loop without the GIL on {cores} threads gets "
          f"{_spare_cores(cores):.2f} (what the machine's other jobs leave free now)")
    print("every round, wall runs/s: " + "; ".join(
        f"{k} " + ", ".join(f"{x:.2f}" for x in v) for k, v in wall.items()))


def _why(e: Exception) -> str:
    """An exception in one line."""
    return f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[0]}"


def subscripted(mdl: Path, engines: list[str], quick: bool) -> None:
    """Subscripted models against PySD and Simlin running the same subscripted model: a
    conformance model and `mdl` with four areas (one element of Area per authority, generated
    from the single-area model)."""
    from carespiral.pysd_runner.batch import compile_model
    from carespiral.pysd_runner.batch.all_areas import subscript_by_area

    sub_models = [REPO / "tests" / "conformance" / "models" / "subscripted_flows" /
                  "test_subscripted_flows.mdl"]
    tmp_mdl = Path(tempfile.mkdtemp(prefix="carespiral-areas-")) / f"{mdl.stem}_4_areas.mdl"
    tmp_mdl.write_text(subscript_by_area(mdl, ["Haringey", "Leeds", "Cornwall", "Bristol"]),
                       encoding="utf-8")
    sub_models.append(tmp_mdl)
    for sm in sub_models:
        sbm = compile_model(sm)
        n_sub = 100 if quick else (1_000 if sm == tmp_mdl else 10_000)
        p_rate = s_rate = None
        try:
            p_rate = pysd_runs_per_second(sm, 2 if quick else 3)
            p_text = f"PySD {p_rate:.2f} runs/s"
        except Exception as e:  # a construct PySD does not support: say so and go on
            p_text = f"PySD cannot run it ({_why(e)})"
            if sm == tmp_mdl:  # the same work: the single-area model, once per area
                p_rate = pysd_runs_per_second(mdl, 2 if quick else 3) / 4
                p_text += f"; PySD on {mdl.stem} once per area: {p_rate:.3f} runs/s"
        try:
            s_rate = simlin_runs_per_second(sm, 10 if quick else 200)
            s_text = (f"Simlin {s_rate:.0f} runs/s" if s_rate else
                      "Simlin: pysimlin is not installed")
        except Exception as e:  # likewise for Simlin
            s_text = f"Simlin cannot run it ({_why(e)})"
        print(f"subscripted {sm.stem} ({len(sbm.variables)} variables as elements): {p_text}; "
              f"{s_text}")
        frame_sub = draws(sbm, n_sub)
        if frame_sub.empty:  # no bounded constant: every run at the defaults
            frame_sub = pd.DataFrame(index=range(n_sub))
        for eng in engines:
            sbm.run(frame_sub.iloc[:10], reduce="final,max", engine=eng)  # compile first
            secs = _timed(lambda f=frame_sub, e=eng, m=sbm: m.run(f, reduce="final,max", engine=e))
            ratios = ([f"{n_sub / secs / p_rate:.0f} x PySD"] if p_rate else []) + (
                [f"{n_sub / secs / s_rate:.1f} x Simlin"] if s_rate else [])
            print(f"subscripted {sm.stem}: batch {eng:>5} N={n_sub:,}: {n_sub / secs:.0f} runs/s"
                  + (" = " + ", ".join(ratios) if ratios else ""))


def main() -> None:
    # compile from an empty cache, so the first-call figures include numba's compilation
    os.environ.setdefault("CARESPIRAL_CACHE_DIR", tempfile.mkdtemp(prefix="carespiral-bench-"))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small N (smoke test)")
    ap.add_argument("--model", default="collapse_spiral", help="bundled model to time")
    ap.add_argument("--goals", action="store_true",
                    help="only the speed goals: N = 10,000 on one thread and on every core "
                         "against PySD and Simlin")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds of --goals")
    ap.add_argument("--subscripted", action="store_true",
                    help="only the subscripted models against PySD and Simlin")
    args = ap.parse_args()
    from carespiral.pysd_runner.batch import compile_model, numba_engine

    mdl = MODELS / f"{args.model}.mdl"
    if not mdl.is_file():  # the largest bundled model if the named one has not landed
        mdl = max(MODELS.glob("*.mdl"), key=lambda p: p.stat().st_size)
    # both engines of the batch backend: numpy (vectorised over runs) and, if installed, numba
    # (a compiled loop over runs and steps)
    engines = ["numpy", "numba"] if numba_engine.available() else ["numpy"]
    if args.subscripted:
        subscripted(mdl, engines, args.quick)
        return
    bm = compile_model(mdl)
    from carespiral.pysd_runner.catalog import catalog

    entry = catalog().get(mdl.stem)
    # what an experiment keeps: the catalogue's outputs (else the stocks), summarised per run
    outs = list(entry.outputs.values()) if entry and entry.outputs else bm.stocks
    if args.goals:
        goals(mdl, bm, outs, 1_000 if args.quick else 10_000, args.rounds)
        return
    sizes = [1, 100, 1_000] if args.quick else [1, 100, 10_000, 100_000]
    million = 20_000 if args.quick else 1_000_000
    print(f"model: {mdl.stem} ({len(bm.variables)} variables, {len(bm.stocks)} stocks); "
          f"batch runs keep final and max of {len(outs)} outputs")

    # The machine may be shared: PySD and Simlin are timed before and after the batch runs
    # and their mean is used, so a change of load during the run does not skew the ratios.
    pysd_before = pysd_runs_per_second(mdl, 2 if args.quick else 5)
    simlin_before = simlin_runs_per_second(mdl, 10 if args.quick else 50)

    # compilation of each engine, timed apart, from an empty cache
    compile_s = {}
    for eng in engines:
        small = draws(bm, 10)
        compile_s[eng] = _timed(lambda e=eng, q=small: bm.run(q, outputs=outs,
                                                               reduce="final,max", engine=e))
    rates: dict[tuple[str, int], float] = {}
    for n in sizes:
        params = draws(bm, n)
        for eng in engines:
            seconds = _timed(lambda p=params, e=eng: bm.run(p, outputs=outs, reduce="final,max",
                                                            engine=e),
                             repeat=3 if n <= 100 else 1)
            rates[eng, n] = n / seconds
    pysd_after = pysd_runs_per_second(mdl, 2 if args.quick else 5)
    simlin_after = simlin_runs_per_second(mdl, 10 if args.quick else 50)
    pysd_rate = (pysd_before + pysd_after) / 2
    print(f"PySD: {pysd_rate:.2f} runs/s (before {pysd_before:.2f}, after {pysd_after:.2f})")
    simlin_rate = None
    if simlin_before and simlin_after:
        simlin_rate = (simlin_before + simlin_after) / 2
        print(f"Simlin (pysimlin, one run at a time): {simlin_rate:.0f} runs/s (before "
              f"{simlin_before:.0f}, after {simlin_after:.0f})")
    for eng in engines:
        print(f"engine {eng}: first call (code generation, compilation from an empty cache, "
              f"10 runs) {compile_s[eng]:.2f} CPU s")
    for (eng, n), rate in rates.items():
        line = (f"batch {eng:>5} N={n:>7,}: {rate:>9.0f} runs/s = {rate / pysd_rate:>7.0f} x "
                "PySD")
        if simlin_rate:
            line += f", {rate / simlin_rate:5.1f} x Simlin"
        print(line)

    # Both cores: the numba engine's threads (blocks of runs) against one thread, in wall time
    # (CPU time counts every thread), with PySD's wall time measured alongside
    if "numba" in engines:
        params = draws(bm, sizes[-2])
        wall = {}
        for threads in (1, None):
            wall[threads] = _wall(lambda p=params, t=threads: bm.run(
                p, outputs=outs, reduce="final,max", engine="numba", threads=t))
        from carespiral.pysd_runner.batch.numba_engine import default_threads

        pysd_wall_rate = pysd_runs_per_second(mdl, 2 if args.quick else 3, wall=True)
        n_par = len(params)
        print(f"numba threads N={n_par:,} (wall): 1 thread {n_par / wall[1]:.0f} runs/s, "
              f"{default_threads()} threads {n_par / wall[None]:.0f} runs/s: speed-up "
              f"{wall[1] / wall[None]:.2f}; = {n_par / wall[None] / pysd_wall_rate:.0f} x PySD "
              f"({pysd_wall_rate:.2f} runs/s, wall)")

    subscripted(mdl, engines, args.quick)

    # the practical limit of the numpy approach: the same equations written by hand as one
    # numpy loop
    spiral = compile_model(MODELS / "workforce_spiral.mdl")
    n = 1_000 if args.quick else 10_000
    rr = np.random.default_rng(3).uniform(150, 400, n)
    frame = pd.DataFrame({"Referral Rate": rr})
    t_hand = _timed(lambda: hand_written_spiral(n, rr), repeat=3)
    hand = hand_written_spiral(n, rr)
    t_batch = {}
    for eng in engines:
        def go(e=eng):
            return spiral.run(frame, reduce="final", outputs=["Social Workers"], engine=e)
        go()  # compile first
        t_batch[eng] = _timed(go, repeat=3)
        same = np.allclose(hand, go()["Social Workers:final"].to_numpy(), rtol=1e-9)
        print(f"workforce_spiral N={n:,}: hand-written numpy {n / t_hand:.0f} runs/s, batch "
              f"{eng} {n / t_batch[eng]:.0f} runs/s: it takes {t_batch[eng] / t_hand:.2f} x the "
              f"hand-written loop's time (same results: {same})")
    # the small teaching model, for comparison with the figures in the issue
    small = MODELS / "workforce_spiral.mdl"
    p_small = pysd_runs_per_second(small, 5 if args.quick else 20)
    s_small = simlin_runs_per_second(small, 50 if args.quick else 200)
    for eng in engines:
        line = (f"workforce_spiral: PySD {p_small:.1f} runs/s; batch {eng} N={n:,} = "
                f"{n / t_batch[eng] / p_small:.0f} x PySD")
        if s_small:
            line += (f"; Simlin {s_small:.0f} runs/s; batch = "
                     f"{n / t_batch[eng] / s_small:.1f} x Simlin")
        print(line)

    mem = peak_memory_million(MODELS / "workforce_spiral.mdl", million)
    print(f"workforce_spiral {mem['runs']:,}-run reduced ensemble (final,max,min of every "
          f"variable): {mem['seconds']:.0f} s wall, peak memory {mem['peak_mb']:.0f} MB "
          f"({mem['before_run_mb']:.0f} MB before the run; default engine: {mem['engine']})")


if __name__ == "__main__":
    main()
