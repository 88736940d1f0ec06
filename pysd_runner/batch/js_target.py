"""The JavaScript target: the batch backend's lowered equations as a JavaScript function.

The numpy and numba engines run a lowered `Program` in Python; this module writes the same
equations, in the same order (`codegen.plan`: initial values in dependency order, then per step
the auxiliaries the derivatives need, outputs at saved times, all derivatives before the Euler
update ``x + ddt * dt``), as JavaScript for one run at a time, so a model can run in a web page
with no server. Every numpy expression is rewritten term by term: arithmetic stays arithmetic on
IEEE doubles, and each numpy or runtime function becomes its JavaScript twin (`js_runtime`),
which does the same floating-point operations in the same order. Results equal the numpy
engine's to the last bit, except where JavaScript's `Math.exp`, `Math.log`, `Math.pow` and the
trigonometric functions round differently from the C library's (in the last bit), and in RANDOM
NORMAL's error function (`js_random`: within about 1e-14 of scipy's).

    js = compile_js(compile_model("models/collapse_spiral.mdl"),
                    params=["Compliance Burden"], inputs=["Scandal Shock"],
                    outputs=["Caseload"])
    js.source      # "(function ($rt) {...})": call with the runtime to get {simulate, ...}

In the page, ``simulate(P, T, t0, dt, nsteps, saveEvery)`` takes `P` (parameter values by node
id) and `T` (time inputs by node id: ``{t: [...], v: [...]}``, linearly interpolated and held at
the ends as `TimeInput` does) and returns the outputs at every saved time and the first blow-up
(a state not finite, or below a lower limit of 0), as `BlowUpCheck` finds it. A model with RANDOM
functions also reads, from `P`, the seed and the run's position (`JsModel.random`, the module's
`random`): the same pair draws the numpy engine's numbers, the run at position i of
``run(..., seed=s)`` being ``{random_seed: s, random_run: i}`` (`js_random`).

Anything the generated numpy code holds that has no JavaScript twin here is refused with an
`UnsupportedConstructError` naming the construct and the variable.
"""

from __future__ import annotations

import ast
import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from carespiral.errors import CarespiralError
from carespiral.pysd_runner.batch.codegen import control_source, plan
from carespiral.pysd_runner.batch.js_expr import IDENT, JsUnsupportedError, ToJs, dotted
from carespiral.pysd_runner.batch.js_runtime import JS_RUNTIME, RUNTIME_NAMES
from carespiral.pysd_runner.batch.lowering import Program
from carespiral.pysd_runner.batch.program import RANDOM_RUN, RANDOM_SEED

__all__ = ["JS_RUNTIME", "JsModel", "JsUnsupportedError", "compile_js", "generate_js",
           "time_grid"]

# the fields of the lowered program this target knows; anything else is refused (so a construct
# added to the lowering later is never silently mistranslated)
_KNOWN = {
    # groups: a subscripted variable's cells (each cell is its own node, so nothing to write)
    # external_files: where constants and tables were read from (already in them)
    "Program": {"path", "aux", "states", "lookups", "names", "py_names", "units", "limits",
                "control", "groups", "external_files"},
    "Aux": {"id", "code", "deps", "init_code", "init_deps", "vensim", "is_constant", "is_data"},
    "State": {"id", "init_code", "init_deps", "ddt", "update", "update_deps", "setup", "vensim",
              "lower_limit", "owner"},
    "Lookup": {"id", "x", "y", "kind", "vensim"},
}


@dataclass(frozen=True)
class JsModel:
    """A model compiled to JavaScript for one run configuration.

    `source` is a JavaScript function expression taking the runtime (`JS_RUNTIME`) and returning
    ``{simulate, outputs, checked}``. `params`, `inputs` and `outputs` map Vensim names to the
    node ids `simulate` uses, in order. The time grid is the model's (INITIAL TIME, TIME STEP,
    SAVEPER, FINAL TIME): `nsteps` Euler steps from `t0`, outputs every `save_every` steps.
    """

    source: str
    params: dict[str, str]
    inputs: dict[str, str]
    outputs: dict[str, str]
    checked: tuple[str, ...]  # labels of the states checked for blow-ups, in order
    t0: float
    dt: float
    nsteps: int
    save_every: int
    # node ids of the RANDOM functions' seed and run position, which every run's `P` holds
    # (None when the model draws no random numbers)
    random: tuple[str, str] | None = None

    @property
    def times(self) -> list[float]:
        """Model times of the saved values (as `Job.times`)."""
        return [round(self.t0 + k * self.dt, 10)
                for k in range(0, self.nsteps + 1, self.save_every)]


def _check_program(prog: Program) -> None:
    """Refuse a program holding fields this target does not know (set to something)."""
    objs: list[tuple[str, Any, str]] = [("Program", prog, "")]
    objs += [("Aux", a, a.vensim or a.id) for a in prog.aux.values()]
    objs += [("State", s, s.vensim or s.owner or s.id) for s in prog.states.values()]
    objs += [("Lookup", lk, lk.vensim) for lk in prog.lookups.values()]
    for kind, obj, label in objs:
        for f in dataclasses.fields(obj):
            if f.name in _KNOWN[kind]:
                continue
            value = getattr(obj, f.name)
            if value in (None, False, "", 0) or (hasattr(value, "__len__") and not len(value)):
                continue
            raise JsUnsupportedError(f"a construct stored as {kind}.{f.name}", label or kind,
                                     prog.path)
    for lk in prog.lookups.values():
        if lk.kind not in ("interpolate", "extrapolate", "hold_backward", "look_forward",
                           "raw"):
            raise JsUnsupportedError(f"a lookup of type {lk.kind!r}", lk.vensim, prog.path)


def _floats(values: Iterable[float]) -> str:
    out = []
    for v in values:
        f = float(v)
        out.append("NaN" if math.isnan(f) else ("Infinity" if f == math.inf else
                   ("-Infinity" if f == -math.inf else repr(f))))
    return "[" + ", ".join(out) + "]"


def generate_js(prog: Program, params: Iterable[str], inputs: Iterable[str],
                outputs: Sequence[str]) -> str:
    """JavaScript source (a factory of the runtime) computing what `codegen.generate`'s function
    computes for one run. `params`, `inputs` and `outputs` are node ids, as for `generate`."""
    from carespiral.pysd_runner.batch.runtime import Table

    _check_program(prog)
    randoms = RANDOM_RUN in prog.aux  # each run is given its seed and position (`random_streams`)
    if randoms:
        params = list(dict.fromkeys([*params, RANDOM_SEED, RANDOM_RUN]))
    pl = plan(prog, params, inputs, outputs, every_step=False)
    states = prog.states
    label = {nid: v for v, nid in prog.names.items()}
    for sid, st in states.items():
        label.setdefault(sid, f"{st.owner} (internal state)")

    fast: dict[str, bool] = {}
    head = ["(function ($rt) {", '"use strict";']
    head += [f"const ${n} = $rt.{n};" for n in RUNTIME_NAMES]
    for lk in prog.lookups.values():
        t = Table(list(lk.x), list(lk.y))
        fast[lk.id] = bool(t.fast) and lk.kind == "interpolate"
        head.append(f"const {lk.id}__x = new Float64Array({_floats(lk.x)});")
        head.append(f"const {lk.id}__y = new Float64Array({_floats(lk.y)});")
        if fast[lk.id]:
            sl, xe, ye = (list(map(float, r)) for r in t.rows)
            head.append(f"const {lk.id}__sl = new Float64Array({_floats(sl)});")
            head.append(f"const {lk.id}__xe = new Float64Array({_floats(xe)});")
            head.append(f"const {lk.id}__ye = new Float64Array({_floats(ye)});")

    # ---- initial values: the numpy engine's own statements, in its order ------------------
    tr = ToJs(prog, fast)
    init: list[str] = []
    assigned: list[str] = []
    pipes: set[str] = set()
    for line in pl.init_lines:
        if line.lstrip().startswith("#"):
            continue
        name, eq, rhs = line.partition(" = ")
        if not (eq and IDENT.match(name)):
            raise JsUnsupportedError(f"an initial statement {line[:60]!r}", "?", prog.path)
        try:
            value = tr.parsed.get(rhs) or ast.parse(rhs, mode="eval").body
        except SyntaxError:
            raise JsUnsupportedError(f"an initial statement {line[:60]!r}", "?",
                                     prog.path) from None
        tr.parsed[rhs] = value
        func = dotted(value.func) if isinstance(value, ast.Call) else ""
        if name in ("time_step", "time") or func in ("np.array", "rt.Table", "rt.as_numpy"):
            continue  # the time and the tables are set up separately; states are plain numbers
        tr.name(name)
        if func == "rt.FixedPipe":
            args = [tr.code_node(a, label.get(name, name)) for a in value.args[:3]]
            init.append(f"{name} = $fixedPipe({', '.join(args)});")
            pipes.add(name)
        else:
            init.append(f"{name} = {tr.code_node(value, label.get(name, name))};")
        if name not in assigned:
            assigned.append(name)

    # ---- one step: the kernel, with every non-local value handed over once ----------------
    moving = [sid for sid in states if sid in pl.moving]
    local = {nid for nid, _ in pl.core} | {nid for nid, _ in pl.extra} | set(moving)
    local |= {"time", "time_step", "dt", "k"}  # k: the step, which RANDOM functions read
    kt = ToJs(prog, fast, tr.parsed)
    core = [f"{nid} = {kt.code(code, label.get(nid, nid))};" for nid, code in pl.core]
    extra = [f"{nid} = {kt.code(code, label.get(nid, nid))};" for nid, code in pl.extra]
    updates: list[str] = []
    for sid in moving:
        st = states[sid]
        if st.ddt:
            kt.reads.add(kt.name(st.ddt))
            updates.append(f"{sid} = {sid} + {st.ddt} * dt;")
    for sid in moving:
        st = states[sid]
        if not st.update:
            continue
        stmt = ast.parse(st.update).body[0]
        if not (isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name)
                and stmt.targets[0].id == sid):
            raise JsUnsupportedError("a custom state update", st.owner or sid, prog.path)
        v = stmt.value
        if (isinstance(v, ast.Call) and isinstance(v.func, ast.Attribute)
                and v.func.attr == "push" and isinstance(v.func.value, ast.Name)
                and v.func.value.id in pipes and len(v.args) == 1):
            pipe = v.func.value.id
            kt.reads.add(pipe)
            updates.append(f"{sid} = $push({pipe}, {kt.code_node(v.args[0], st.owner)});")
        else:
            updates.append(f"{sid} = {kt.code_node(v, st.owner or sid)};")
    for o in pl.outputs:
        kt.reads.add(kt.name(o))
    for c in pl.checked:
        kt.reads.add(c)
    consts = sorted(r for r in kt.reads if r not in local)
    tables = {f"{lk}__{s}" for lk in prog.lookups for s in ("x", "y")}  # declared at the top
    missing = [c for c in consts if c not in assigned and not c.startswith(("$p_", "$T_"))
               and c not in pipes and c not in tables]
    if missing:
        raise JsUnsupportedError(f"a value the target cannot find ({missing[0]})",
                                 label.get(missing[0], missing[0]), prog.path)

    nonneg = [states[sid].lower_limit == 0.0 for sid in pl.checked]
    K = ["function $kernel($S, $C, time, dt, $n, $se, $O) {", "const time_step = dt;"]
    K += [f"let {sid} = $S[{j}];" for j, sid in enumerate(moving)]
    K += [f"const {c} = $C[{j}];" for j, c in enumerate(consts)]
    temps = [nid for nid, _ in pl.core] + [nid for nid, _ in pl.extra if nid not in moving]
    if temps:
        K.append("let " + ", ".join(dict.fromkeys(temps)) + ";")
    K += [f"const $O{j} = $O[{j}];" for j in range(len(pl.outputs))]
    K.append('let $bt = NaN, $bv = -1, $bk = "";')
    kv = "k" if randoms else "$k"  # the numpy code's name of the step, when it reads it
    K.append(f"for (let {kv} = 0; ; {kv}++) {{")
    K += core
    K.append(f"if ({kv} % $se === 0) {{")
    K += extra
    K.append(f"const $j = ({kv} / $se) | 0;")
    K += [f"$O{j}[$j] = {o};" for j, o in enumerate(pl.outputs)]
    K.append("}")
    K.append(f"if ($bv < 0 && ({kv} % $se === 0 || {kv} === $n)) {{")
    for j, (sid, nn) in enumerate(zip(pl.checked, nonneg, strict=True)):
        cond = (f"{sid} < 0" if nn else "false")
        K.append(f'if ($bv < 0) {{ if ({cond}) {{ $bt = time; $bv = {j}; $bk = "negative"; }} '
                 f'else if (!isFinite({sid})) {{ $bt = time; $bv = {j}; $bk = "not finite"; }} }}')
    K.append("}")
    K.append(f"if ({kv} === $n) break;")
    K += updates
    K.append("time = time + dt;")
    K.append("}")
    K.append("return $bv < 0 ? null : {time: $bt, state: $bv, kind: $bk};")
    K.append("}")

    S = ["function simulate(P, T, t0, dt, nsteps, saveEvery) {",
         "const time_step = dt;", "let time = t0;"]
    S += [f'const $p_{nid} = $param(P, "{nid}");' for nid in sorted(pl.params)]
    S += [f'const $T_{nid} = $input(T, "{nid}");' for nid in sorted(pl.inputs)]
    if assigned:
        S.append("let " + ", ".join(assigned) + ";")
    S += init
    S.append("const $nSaved = Math.floor(nsteps / saveEvery) + 1;")
    S.append("const $O = [" + ", ".join("new Float64Array($nSaved)" for _ in pl.outputs) + "];")
    S.append("const $b = $kernel([" + ", ".join(moving) + "], [" + ", ".join(consts)
             + "], time, dt, nsteps, saveEvery, $O);")
    S.append("return {outputs: $O, blowup: $b === null ? null : "
             "{time: $b.time, variable: CHECKED[$b.state], kind: $b.kind}};")
    S.append("}")

    checked_labels = [states[sid].vensim or states[sid].owner for sid in pl.checked]
    tail = [f"const CHECKED = {_js_strings(checked_labels)};",
            f"const OUTPUTS = {_js_strings(pl.outputs)};",
            f"const RANDOM = {_js_strings([RANDOM_SEED, RANDOM_RUN]) if randoms else 'null'};",
            "return {simulate: simulate, outputs: OUTPUTS, checked: CHECKED, random: RANDOM};",
            "})"]
    return "\n".join(head + K + S + tail) + "\n"


def _js_strings(items: Iterable[str]) -> str:
    import json

    return json.dumps(list(items), ensure_ascii=True).replace("</", "<\\/")


def time_grid(prog: Program) -> tuple[float, float, int, int]:
    """(t0, dt, nsteps, save_every) with the model's control values, as `BatchModel.prepare`
    computes them."""
    import numpy as np

    from carespiral.pysd_runner.batch import runtime
    from carespiral.pysd_runner.batch.time_grid import build_grid

    grid = build_grid(prog, {})  # control variables that read Time (None: constants)
    if grid is not None:
        steps = grid.uniform()
        if steps is None:
            raise CarespiralError(
                f"{prog.path.name}: its TIME STEP or SAVEPER changes over time; the page runs "
                "one step size saved at a fixed interval: use the batch backend "
                "(BatchModel.run) for this model")
        return grid.t0, steps[0], grid.nsteps, steps[1]
    ns: dict[str, Any] = {"np": np, "rt": runtime, "NAN": math.nan, "INF": math.inf}
    exec(compile(control_source(prog, ()), f"<control {prog.path.name}>", "exec"), ns)
    t0, tf, dt, sp = (float(np.asarray(x)) for x in ns["control"]({}))
    if not dt > 0:
        raise CarespiralError(f"{prog.path.name}: TIME STEP must be positive, got {dt:g}")
    nsteps = max(0, math.ceil((tf - t0) / dt - 1e-5))
    save_every = round(sp / dt)
    if save_every < 1 or abs(save_every * dt - sp) > 1e-9 * max(1.0, abs(sp)):
        raise CarespiralError(f"{prog.path.name}: SAVEPER ({sp:g}) must be a whole multiple of "
                              f"TIME STEP ({dt:g})")
    return t0, dt, nsteps, save_every


def compile_js(model: Any, params: Iterable[str] = (), inputs: Iterable[str] = (),
               outputs: Iterable[str] | None = None) -> JsModel:
    """Compile a `BatchModel` to JavaScript: `params` are constants given per run, `inputs` are
    variables given as time inputs, `outputs` the variables recorded (default: every variable
    but the control variables and lookups). Names are Vensim or PySD names."""
    prog: Program = model.program
    control = set(prog.control.values())

    def ids(names: Iterable[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for name in names:
            v = model.resolve(str(name))
            out[v] = prog.names[v]
        return out

    p_ids, i_ids = ids(params), ids(inputs)
    for v in list(p_ids) + list(i_ids):
        nid = prog.names[v]
        if nid in prog.lookups:
            raise CarespiralError(f"{v!r} is a lookup table and cannot be set")
        if nid in control:
            raise CarespiralError(f"{v!r} is a control variable; the page keeps the model's "
                                  "time grid")
    both = set(p_ids) & set(i_ids)
    if both:
        raise CarespiralError(f"{sorted(both)[0]!r} is given both as a parameter and a time input")
    names = list(outputs) if outputs is not None else [
        v for v in model.variables if prog.names[v] not in control]
    o_ids = ids(names)
    for v, nid in o_ids.items():
        if nid in prog.lookups:
            raise CarespiralError(f"{v!r} is a lookup table, not a variable to record")
    source = generate_js(prog, p_ids.values(), i_ids.values(), list(o_ids.values()))
    t0, dt, nsteps, save_every = time_grid(prog)
    pl_checked = [s.vensim or s.owner for sid, s in prog.states.items() if s.ddt or s.update]
    random = (RANDOM_SEED, RANDOM_RUN) if RANDOM_RUN in prog.aux else None
    return JsModel(source, p_ids, i_ids, o_ids, tuple(pl_checked), t0, dt, nsteps, save_every,
                   random)
