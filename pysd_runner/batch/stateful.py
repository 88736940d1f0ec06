"""Vensim's stateful built-ins lowered to hidden states, built exactly as PySD builds them.

SMOOTH, DELAY, DELAY N, DELAY FIXED, TREND, FORECAST, SAMPLE IF TRUE and INITIAL become hidden
`State`s and `Aux`es, so that the same floating-point operations happen in the same order as in
PySD. `StatefulBuiltins` is a part of the lowerer (`expressions.Lowerer`); it reads its
expression methods (`expr`, `refuse`) and adds nodes to its tables.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from carespiral.errors import CarespiralError
from carespiral.pysd_runner.batch.program import Aux, State, _ident

if TYPE_CHECKING:  # pragma: no cover
    from carespiral.pysd_runner.batch.expressions import _Lowerer

__all__ = ["StatefulBuiltins"]


class StatefulBuiltins:
    """The lowerer's methods for stateful built-ins (hidden states)."""

    aux: dict[str, Aux]
    states: dict[str, State]

    def hidden(self, stem: str) -> str:
        self.nhidden += 1
        return _ident(f"_{stem}{self.nhidden}", self.used, prefix="h")

    def sub_aux(self, stem: str, ast: object, deps_out: set[str]) -> str:
        """Put a sub-expression in its own Aux (so it is evaluated once) and return its id."""
        d: set[str] = set()
        code = self.expr(ast, d)
        nid = self.hidden(stem)
        self.aux[nid] = Aux(nid, code, d)
        deps_out.add(nid)
        return nid

    def initial(self, ast: object, deps: set[str]) -> str:
        d: set[str] = set()
        code = self.expr(ast, d)
        nid = self.hidden("initial")
        self.states[nid] = State(nid, code, d)  # no derivative: frozen at its initial value
        deps.add(nid)
        return nid

    def variable_order(self, kind: str, ast: object, time_ast: object, deps: set[str]) -> str:
        """DELAY N / SMOOTH N whose order is an expression: Vensim fixes the order at the initial
        time. The stages are built for the order's value with the model's defaults (known once
        every element is lowered); each run uses its own initial order, up to that many."""
        o_id = self.initial(ast.order, set())  # type: ignore[attr-defined]
        out = self.hidden(f"{kind}n_out")
        var, bind = self.var, self.bind
        self.aux[out] = Aux(out, "NAN", set())  # replaced when the stages are built

        def build() -> None:
            self.var, self.bind = var, bind
            cap = self.static_order(o_id, f"{kind.upper()} N order")
            inner: set[str] = set()
            code = f"rt.initial_order({cap}, {o_id}, time_step, {{t}}, {kind == 'delay'})"
            if kind == "delay":
                last = self.delay(ast.input, time_ast, ast.initial, cap, inner,  # type: ignore[attr-defined]
                                  lower_order=True, order_code=(code, o_id))
            else:
                last = self.smooth(ast.input, time_ast, ast.initial, cap, inner,  # type: ignore[attr-defined]
                                   order_code=(code, o_id))
            self.aux[out] = Aux(out, last, {last})

        self.finishers.append(build)
        deps.add(out)
        return out

    def static_order(self, nid: str, what: str) -> int:
        """The value of an order's INITIAL state with the model's defaults (a whole number >= 1)."""
        try:
            v = float(np.max(_static_value(self, nid)))  # type: ignore[arg-type]
        except Exception:
            raise self.refuse(f"a {what} that cannot be computed before the run") from None
        if not (math.isfinite(v) and v >= 1):
            raise self.refuse(f"a {what} of {v:g}", "the order must be at least 1")
        return int(v)

    def delay(self, inp: object, dtime: object, init: object, order: int, deps: set[str],
              lower_order: bool, order_code: tuple[str, str] | None = None) -> str:
        # PySD's Delay: stage i holds order * (Vensim's stock i); outflow_i = s_i / delay time.
        i_id = self.sub_aux("delay_in", inp, set())
        t_id = self.sub_aux("delay_time", dtime, set())
        v_id = self.sub_aux("delay_init", init, set())
        base = self.hidden("delay")
        stages = [f"{base}_s{i}" for i in range(order)]
        outs = [f"{base}_o{i}" for i in range(order)]
        self.used.update(stages + outs)
        m_id = None
        if lower_order:
            # DELAY N: Vensim (and PySD) lower the order while order * TIME STEP exceeds the
            # delay time, once, at initialisation. The order may differ between runs, so the
            # stages below the first active one are masked (their derivative is zero).
            m_id = f"{base}_order"
            self.used.add(m_id)
            if order_code is None:
                self.states[m_id] = State(m_id, f"rt.delay_n_order({order}, time_step, {t_id})",
                                          {t_id})
            else:  # the order is an expression, fixed at the initial time (at most `order`)
                self.states[m_id] = State(m_id, order_code[0].format(t=t_id),
                                          {t_id, order_code[1]})
        lag: list[str] = []
        if m_id is not None:
            # DELAY N (as PySD's DelayN): stage j of the m active ones divides by the delay time
            # of j steps ago; lag l holds the delay time of l + 1 steps ago (updated after each
            # step, the oldest first, so each takes its predecessor's previous value)
            lag = [f"{base}_lag{i}" for i in range(order)]
            self.used.update(lag)
            for i in reversed(range(order)):
                src = t_id if i == 0 else lag[i - 1]
                self.states[lag[i]] = State(lag[i], f"({t_id} + 0.0)", {t_id},
                                            update=f"{lag[i]} = {src}", update_deps={src})
        for i in range(order):
            if m_id is None:
                self.aux[outs[i]] = Aux(outs[i], f"({stages[i]} / {t_id})", {stages[i], t_id})
            else:
                # active stage i is stage j = i - (order - m): delay time of j steps ago
                div, ddeps = t_id, {t_id}
                for back in range(1, i + 1):
                    div = f"np.where({order} - {m_id} == {i - back}, {lag[back - 1]}, {div})"
                    ddeps |= {lag[back - 1], m_id}
                self.aux[outs[i]] = Aux(outs[i], f"({stages[i]} / {div})", {stages[i], *ddeps})
            dd = f"{base}_d{i}"
            self.used.add(dd)
            if m_id is None:
                inflow = i_id if i == 0 else outs[i - 1]
                self.aux[dd] = Aux(dd, f"(({inflow} - {outs[i]}) * {order})",
                                   {inflow, outs[i]})
            elif i == 0:
                self.aux[dd] = Aux(
                    dd, f"np.where({order} - {m_id} == 0, (({i_id} - {outs[0]}) * {m_id}), 0.0)",
                    {i_id, outs[0], m_id})
            else:
                first = f"({order} - {m_id} == {i})"
                self.aux[dd] = Aux(
                    dd,
                    f"np.where({order} - {m_id} <= {i}, ((np.where({first}, {i_id}, "
                    f"{outs[i - 1]}) - {outs[i]}) * {m_id}), 0.0)",
                    {i_id, outs[i - 1], outs[i], m_id})
            self.states[stages[i]] = State(stages[i], f"({v_id} * {t_id})", {v_id, t_id}, ddt=dd)
        if m_id is not None:  # PySD's DelayN output: the last stage over the previous delay time
            out = f"{base}_out"
            self.used.add(out)
            self.aux[out] = Aux(out, f"({stages[-1]} / {lag[0]})", {stages[-1], lag[0]})
            deps.add(out)
            return out
        deps.add(outs[-1])
        return outs[-1]

    def delay_fixed(self, ast: object, deps: set[str]) -> str:
        din, dtm, dv = set(), set(), set()
        i_id = self.sub_aux("dfix_in", ast.input, din)  # type: ignore[attr-defined]
        t_id = self.sub_aux("dfix_time", ast.delay_time, dtm)  # type: ignore[attr-defined]
        v_id = self.sub_aux("dfix_init", ast.initial, dv)  # type: ignore[attr-defined]
        sid = self.hidden("dfix")
        pipe = f"{sid}_pipe"
        self.used.add(pipe)
        self.states[sid] = State(
            sid, f"({v_id} + 0.0 * {t_id})", {v_id, t_id},
            setup=f"{pipe} = rt.FixedPipe({v_id}, {t_id}, time_step, n)",
            update=f"{sid} = {pipe}.push({i_id})", update_deps={i_id},
        )
        deps.add(sid)
        return sid

    def smooth(self, inp: object, stime: object, init: object, order: int,
               deps: set[str], order_code: tuple[str, str] | None = None) -> str:
        i_id = self.sub_aux("smooth_in", inp, set())
        t_id = self.sub_aux("smooth_time", stime, set())
        v_id = self.sub_aux("smooth_init", init, set())
        base = self.hidden("smooth")
        stages = [f"{base}_s{i}" for i in range(order)]
        m_id = None
        if order_code is not None:
            # an order fixed at the initial time, per run, at most `order`: the stages before
            # the first active one are masked (derivative zero), as for DELAY N
            m_id = f"{base}_order"
            self.used.add(m_id)
            self.states[m_id] = State(m_id, order_code[0].format(t=t_id),
                                      {t_id, order_code[1]})
        for i in range(order):
            self.used.add(stages[i])
            target = i_id if i == 0 else stages[i - 1]
            dd = f"{base}_d{i}"
            self.used.add(dd)
            if m_id is None:
                # PySD: (targets - state) * order / smooth_time
                self.aux[dd] = Aux(dd, f"((({target} - {stages[i]}) * {float(order)!r}) / "
                                   f"{t_id})", {target, stages[i], t_id})
            else:
                tgt = i_id if i == 0 else f"np.where({order} - {m_id} == {i}, {i_id}, {target})"
                self.aux[dd] = Aux(
                    dd, f"np.where({order} - {m_id} <= {i}, ((({tgt} - {stages[i]}) * {m_id}) / "
                    f"{t_id}), 0.0)", {i_id, target, stages[i], t_id, m_id})
            self.states[stages[i]] = State(stages[i], f"({v_id} + 0.0)", {v_id}, ddt=dd)
        deps.add(stages[-1])
        return stages[-1]

    def trend(self, ast: object, deps: set[str]) -> str:
        i_id = self.sub_aux("trend_in", ast.input, set())  # type: ignore[attr-defined]
        a_id = self.sub_aux("trend_time", ast.average_time, set())  # type: ignore[attr-defined]
        v_id = self.sub_aux("trend_init", ast.initial_trend, set())  # type: ignore[attr-defined]
        sid = self.hidden("trend")
        dd, out = f"{sid}_d", f"{sid}_out"
        self.used.update((dd, out))
        self.aux[dd] = Aux(dd, f"(({i_id} - {sid}) / {a_id})", {i_id, sid, a_id})
        self.states[sid] = State(sid, f"({i_id} / (1 + ({v_id} * {a_id})))", {i_id, v_id, a_id},
                                 ddt=dd)
        self.aux[out] = Aux(out, f"rt.zidz(({i_id} - {sid}), ({a_id} * np.abs({sid})))",
                            {i_id, sid, a_id})
        deps.add(out)
        return out

    def forecast(self, ast: object, deps: set[str]) -> str:
        i_id = self.sub_aux("fc_in", ast.input, set())  # type: ignore[attr-defined]
        a_id = self.sub_aux("fc_time", ast.average_time, set())  # type: ignore[attr-defined]
        h_id = self.sub_aux("fc_horizon", ast.horizon, set())  # type: ignore[attr-defined]
        v_id = self.sub_aux("fc_init", ast.initial_trend, set())  # type: ignore[attr-defined]
        sid = self.hidden("forecast")
        dd, out = f"{sid}_d", f"{sid}_out"
        self.used.update((dd, out))
        self.aux[dd] = Aux(dd, f"(({i_id} - {sid}) / {a_id})", {i_id, sid, a_id})
        self.states[sid] = State(sid, f"({i_id} / (1 + {v_id}))", {i_id, v_id}, ddt=dd)
        self.aux[out] = Aux(
            out, f"({i_id} * (1 + (rt.zidz(({i_id} - {sid}), ({a_id} * {sid})) * {h_id})))",
            {i_id, sid, a_id, h_id})
        deps.add(out)
        return out

    def sample_if_true(self, ast: object, deps: set[str]) -> str:
        c_id = self.sub_aux("sit_cond", ast.condition, set())  # type: ignore[attr-defined]
        i_id = self.sub_aux("sit_in", ast.input, set())  # type: ignore[attr-defined]
        v_id = self.sub_aux("sit_init", ast.initial, set())  # type: ignore[attr-defined]
        sid = self.hidden("sample")
        out = f"{sid}_out"
        self.used.add(out)
        self.states[sid] = State(sid, f"({v_id} + 0.0)", {v_id},
                                 update=f"{sid} = {out}", update_deps={out})
        self.aux[out] = Aux(out, f"np.where({c_id}, {i_id}, {sid})", {c_id, i_id, sid})
        deps.add(out)
        return out



def _static_value(low: _Lowerer, nid: str) -> object:
    """A node's initial value with the model's defaults, computed at lowering (numpy)."""
    from carespiral.pysd_runner.batch import runtime as rt

    ns: dict[str, object] = {"np": np, "rt": rt, "NAN": math.nan, "INF": math.inf}
    for lk in low.lookups.values():
        ns[f"{lk.id}__x"], ns[f"{lk.id}__y"] = np.array(lk.x), np.array(lk.y)
        ns[f"{lk.id}__t"] = rt.Table(list(lk.x), list(lk.y))

    def value(node: str, seen: tuple[str, ...] = ()) -> object:
        if node in ns:
            return ns[node]
        if node in seen:
            raise CarespiralError("circular")
        if node in ("time", "time_step"):
            key = "initial_time" if node == "time" else "time_step"
            ns[node] = value(low.control[key], (*seen, node))
            return ns[node]
        if node in low.states:
            code, deps = low.states[node].init_code, low.states[node].init_deps
        else:
            a = low.aux[node]
            code, deps = ((a.init_code, a.init_deps or set()) if a.init_code is not None
                          else (a.code, a.deps))
        for d in deps:
            value(d, (*seen, node))
        if "time_step" in code:
            value("time_step", (*seen, node))
        with np.errstate(all="ignore"):
            ns[node] = eval(code, ns)
        return ns[node]

    return value(nid)
