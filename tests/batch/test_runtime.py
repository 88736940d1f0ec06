"""Vectorised built-ins against their one-run definitions."""

from __future__ import annotations

import numpy as np

from carespiral.pysd_runner.batch import runtime as rt


def test_fast_table_is_bitwise_np_interp() -> None:
    rng = np.random.default_rng(42)
    for k in (2, 3, 8, 20):
        xs = np.cumsum(rng.uniform(0.1, 2.0, k)) - 1.0
        ys = rng.normal(size=k)
        table = rt.Table(list(xs), list(ys))
        assert table.fast
        x = np.concatenate([rng.uniform(xs[0] - 2, xs[-1] + 2, 5000), xs, [np.nan, -1e300]])
        got, want = table(x), np.interp(x, xs, ys)
        np.testing.assert_array_equal(got, want)  # same bits, NaN where NaN
        assert table(float(xs[1])) == ys[1]  # scalars go through np.interp


def test_tables_with_repeated_x_fall_back_to_np_interp() -> None:
    table = rt.Table([0.0, 1.0, 1.0, 2.0], [0.0, 1.0, 3.0, 4.0])
    assert not table.fast
    x = np.linspace(-1, 3, 41)
    np.testing.assert_array_equal(table(x), np.interp(x, table.xs, table.ys))


def test_delay_fixed_pipe_per_run_lengths() -> None:
    dt = 0.5
    pipe = rt.FixedPipe(initial=np.array([7.0, 7.0]), delay_time=np.array([1.0, 2.0]),
                        time_step=dt, n=2)
    outs = [pipe.push(np.array([float(k), 10.0 * k])) for k in range(6)]
    # lengths 2 and 4 steps: the input pushed at step k comes out after `length` pushes
    assert [o[0] for o in outs] == [7.0, 0.0, 1.0, 2.0, 3.0, 4.0]
    assert [o[1] for o in outs] == [7.0, 7.0, 7.0, 0.0, 10.0, 20.0]


def test_delay_n_order_is_lowered_per_run() -> None:
    m = rt.delay_n_order(3, 0.5, np.array([1.25, 1.5, 0.2, 10.0]))
    np.testing.assert_array_equal(m, [2, 3, 1, 3])
    assert rt.delay_n_order(3, 0.5, 1.25) == 2


def test_guarded_division_and_pulses() -> None:
    # the generated code runs under np.errstate(all="ignore") too
    with np.errstate(all="ignore"):
        a, b = np.array([1.0, 2.0, 3.0]), np.array([0.0, 5e-7, 2.0])
        np.testing.assert_array_equal(rt.zidz(a, b), [0.0, 0.0, 1.5])
        np.testing.assert_array_equal(rt.xidz(a, b, -1.0), [-1.0, -1.0, 1.5])
        np.testing.assert_array_equal(rt.modulo(np.array([7.0, 7.5]), np.array([3.0, 0.0])),
                                      [1.0, 0.0])
        starts = np.array([1.0, 2.0])
        assert list(rt.pulse(1.0, 0.25, starts, 1.0)) == [1.0, 0.0]
        # Vensim: PULSE with width 0 lasts one TIME STEP
        assert [float(rt.pulse(t, 0.25, 1.0, 0.0)) for t in (0.75, 1.0, 1.25)] == [0, 1, 0]
        assert list(rt.pulse_train(4.0, starts, 3.0, 1.0, 10.0)) == [1.0, 0.0]
        # a repeat time of 0: one pulse of the given width, its end ignored (PySD's pulse);
        # the numba engine's twin agrees
        from carespiral.pysd_runner.batch.scalar_runtime import s_pulse_train

        times = (29.0, 30.0, 45.0, 59.5, 60.0)
        once = [float(rt.pulse_train(t, 30.0, 0.0, 30.0, 40.0)) for t in times]
        assert once == [0, 1, 1, 1, 0]
        assert [s_pulse_train(t, 30.0, 0.0, 30.0, 40.0) for t in times] == once
        assert list(rt.step(2.0, 0.25, np.array([5.0, 5.0]), np.array([2.0, 2.2]))) == [5.0, 0.0]
        assert list(rt.ramp(5.0, 2.0, starts, 4.0)) == [6.0, 4.0]
