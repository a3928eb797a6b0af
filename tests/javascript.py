"""Generated JavaScript run under Node, on the arrays the NumPy modules take."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

from derive.verification.numeric import relative_error

# Loads a generated file with require(), runs forward then backward on the problem read
# from stdin (batch 1: x (T, n_input), states (n_hidden,), d_outputs (T, n_hidden)), and
# prints every result as nested lists.
RUNNER = """
const fs = require("fs");
const cell = require(process.argv[2]);
const problem = JSON.parse(fs.readFileSync(0, "utf8"));
const vec = (a) => Float64Array.from(a);
const map = (o, f) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v)]));
const list = (a) => Array.from(a);
const steps = (s) => s.map(list);
const params = map(problem.params, vec);
const x = problem.x.map(vec);
const state = problem.state && map(problem.state, vec);
const { outputs, values, cache } = cell.forward(params, x, state);
const d_outputs = map(problem.d_outputs, (s) => s.map(vec));
const { d_params, d_x, d_state, carried } = cell.backward(cache, d_outputs);
console.log(JSON.stringify({
  outputs: map(outputs, steps), values: map(values, steps), d_params: map(d_params, list),
  d_x: steps(d_x), d_state: map(d_state, list), carried: map(carried, steps),
}));
"""


def node() -> str:
    found = shutil.which("node")
    if found is None:
        pytest.fail("no `node` on PATH (the one `npm ci` uses runs the generated JavaScript)", pytrace=False)
    return found


def run(source: str, params, x, state=None, d_outputs=None) -> dict:
    """forward and backward of the JavaScript ``source`` on one sequence; the results
    as NumPy arrays: {outputs, values, d_params, d_x, d_state, carried}."""
    problem = {
        "params": {k: np.asarray(v, dtype=np.float64).ravel().tolist() for k, v in params.items()},
        "x": np.asarray(x, dtype=np.float64).tolist(),
        "state": None if state is None else {k: np.asarray(v).tolist() for k, v in state.items()},
        "d_outputs": {k: np.asarray(v).tolist() for k, v in (d_outputs or {}).items()},
    }
    with tempfile.TemporaryDirectory(prefix="derive-js-") as folder:
        module, runner = Path(folder) / "cell.js", Path(folder) / "run.js"
        module.write_text(source)
        runner.write_text(RUNNER)
        out = subprocess.run(
            [node(), str(runner), str(module)], input=json.dumps(problem), capture_output=True, text=True
        )
    if out.returncode:
        raise RuntimeError(out.stderr.strip())
    result = json.loads(out.stdout)
    arrays = {
        k: {name: np.array(v) for name, v in value.items()} for k, value in result.items() if k != "d_x"
    }
    arrays["d_x"] = np.array(result["d_x"])
    for name, value in arrays["d_params"].items():
        arrays["d_params"][name] = value.reshape(np.shape(params[name]))
    return arrays


def carried_by_numpy(m, params, x, state, d_outputs):
    """{state: (T, n_hidden)} for batch 1: the adjoint of each state before step t, from the NumPy
    module alone: the gradient with respect to the initial state of the run from step t
    (its own initial state is the state the full run had there)."""
    outputs, _ = m.forward(params, x, state)
    out = {s: [] for s in m.STATES}
    for t in range(x.shape[0]):
        start = {s: outputs[s][t - 1] for s in m.STATES} if t else state
        _, cache = m.forward(params, x[t:], start)
        _, _, d_state = m.backward(cache, {s: d[t:] for s, d in d_outputs.items()})
        for s in m.STATES:
            out[s].append(d_state[s][0])
    return {s: np.array(v) for s, v in out.items()}


def compare(source, m, params, x, state, d_outputs) -> dict[str, float]:
    """The largest relative difference of each result, JavaScript against NumPy (batch 1)."""
    outputs, cache = m.forward(params, x, state)
    d_params, d_x, d_state = m.backward(cache, d_outputs)
    got = run(
        source,
        params,
        x[:, 0],
        {s: v[0] for s, v in state.items()},
        {s: v[:, 0] for s, v in d_outputs.items()},
    )
    errors = {f"outputs[{s!r}]": relative_error(got["outputs"][s], outputs[s][:, 0]) for s in m.STATES}
    errors |= {
        f"values[{v!r}]": relative_error(got["values"][v], cache["values"][v][:, 0]) for v in got["values"]
    }
    errors |= {
        f"d_params[{p!r}]": relative_error(np.reshape(got["d_params"][p], d_params[p].shape), d_params[p])
        for p in m.PARAMETERS
    }
    errors["d_x"] = relative_error(got["d_x"], d_x[:, 0])
    errors |= {f"d_state[{s!r}]": relative_error(got["d_state"][s], d_state[s][0]) for s in m.STATES}
    carried = carried_by_numpy(m, params, x, state, d_outputs)
    errors |= {f"carried[{s!r}]": relative_error(got["carried"][s], carried[s]) for s in m.STATES}
    return errors


def worst_against_numpy(source: str, module, problem) -> float:
    """The largest relative difference of the JavaScript ``source`` from the NumPy ``module`` on a
    problem of batch 1, over every result ``compare`` checks."""
    return max(compare(source, module, *problem).values())
