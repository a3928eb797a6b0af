"""What the page on the recurrences of 2023–2024 computes: which state-to-state Jacobians
are diagonal and free of weight matrices (read from the derivation), how far the gradient
reaches in the generated modules, the input range where the sLSTM without its stabiliser
stays finite, the parallel scan's check, and the long-lag race read from its records.

``context(root)`` returns (what the page says, a function that draws its figures as {figure
key: svg}, in the language being drawn); nothing here trains.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sympy import MatrixExpr, ZeroMatrix
from sympy.matrices.expressions.diagonal import DiagMatrix

from .. import naming
from ..catalogue import CATALOGUE
from ..cell import N_HIDDEN, N_INPUT, Cell
from ..codegen.modules import generated
from ..derivation import derive
from ..verification.explicit import evaluate
from ..verification.proof import numeric_functions
from . import figures as F
from . import scan
from .training import MissingRecord, race
from .words import _

NEW = ("mingru", "minlstm", "slstm", "lru")
BESIDE = ("lstm", "gru")
# Each cell's "keep the state" entries set near 0.95, as the gradients page's dashed lines:
# the LSTM's and GRU's biases of figures.KEEP, the new cells' biases (minLSTM's two gates
# both, since its keep factor is f / (f + i)) and the LRU's decays.
KEEP = {
    "lstm": {"b_f": 3.0},
    "gru": {"b_i": -3.0},
    "mingru": {"b_i": -3.0},
    "minlstm": {"b_f": 3.0, "b_i": -3.0},
    "slstm": {"b_f": 3.0},
    "lru": {"a": F.KEEP_NEAR},
}
SETTINGS = {"default": "init_params", "kept": f"keep near {F.KEEP_NEAR:g}"}


def _zero(value) -> bool:
    return value == 0 or isinstance(value, ZeroMatrix)


def recurrent_states(cell: Cell) -> list[str]:
    """The states whose previous value a step reads (the LRU's read-out y is not one)."""
    read = {s.name for eq in cell.equations for s in eq.rhs.free_symbols}
    return [s for s in cell.states if naming.prev(s) in read]


def recurrence_jacobian(cell: Cell) -> dict:
    """The blocks ∂v_t/∂w_{t-1} between the recurrent states, from the derivation: whether
    they are diagonal (every block between two different states zero, every other a
    diag(...) or zero), and the matrix parameters (weights) they read."""
    states = recurrent_states(cell)
    blocks = [
        j for j in derive(cell).jacobians if j.of.name in states and j.wrt.name in map(naming.prev, states)
    ]
    diagonal = all(
        _zero(j.value) or (isinstance(j.value, DiagMatrix) and j.wrt.name == naming.prev(j.of.name))
        for j in blocks
    )
    matrices = {p.name for p in cell.parameters if p.symbol.shape[1] != 1}
    read = {s.name for j in blocks if isinstance(j.value, MatrixExpr) for s in j.value.free_symbols}
    return {
        "states": states,
        "blocks": [(j.of.name, j.wrt.name) for j in blocks],
        "diagonal": diagonal,
        "weights": sorted(matrices & read),
    }


def keep_factors(cell: Cell, params: dict, cache: dict) -> np.ndarray:
    """The diagonal of the derived ∂s_t/∂s_{t-1} of a cell whose recurrence is diagonal (s its
    first state), evaluated at every step of a forward run: (T, B, n_hidden)."""
    state = cell.states[0]
    value = next(
        j.value for j in derive(cell).jacobians if (j.of.name, j.wrt.name) == (state, naming.prev(state))
    )
    assert isinstance(value, DiagMatrix), f"{cell.name}: ∂{state}/∂{state}_prev is not diagonal"
    values = cache["values"]
    T, B, n = values[state].shape
    env = {k: v.reshape(T * B, n).T for k, v in values.items()}  # columns: (step, sequence)
    env |= {k: v[:, None] for k, v in params.items() if v.ndim == 1}
    column = evaluate(value.args[0], env, numeric_functions(), {N_HIDDEN: n}, float)
    return np.broadcast_to(np.asarray(column, dtype=float), (n, T * B)).T.reshape(T, B, n)


def _problem(name: str, setting: str):
    module = generated(name)
    params, x, g = F.problem(module)
    if setting == "kept":
        params = dict(params, **{k: np.full_like(params[k], v) for k, v in KEEP[name].items()})
    return module, params, 0.1 * x, g  # small inputs, as on the gradients page


@functools.cache
def adjoints(name: str, setting: str) -> np.ndarray:
    """∂L_T/∂v_(T-k) for k = 1, ..., T (figures.state_adjoints) of the cell's first state."""
    return F.state_adjoints(*_problem(name, setting), state=CATALOGUE[name].states[0])


def product_check(name: str, setting: str) -> float:
    """For a cell whose recurrence is diagonal: the largest relative difference, over the
    steps back, between the generated backward's ∂L_T/∂s_(T-k) and the derived keep factor
    of step T-k+1 times ∂L_T/∂s_(T-k+1). Rounding size when the Jacobian claim holds."""
    module, params, x, _ = _problem(name, setting)
    _, cache = module.forward(params, x)
    keep = keep_factors(CATALOGUE[name], params, cache)
    a = adjoints(name, setting)
    T = x.shape[0]
    worst = 0.0
    for j in range(1, T):  # a[j] is s_(T-1-j), carried back through step T - j
        predicted = keep[T - j - 1] * a[j - 1]
        worst = max(worst, float(np.linalg.norm(a[j] - predicted) / np.linalg.norm(a[j])))
    return worst


# each cell in its colour of every figure, and a line style of its own for print
STYLES = ("-", "--", ":", "-.", (0, (6, 2, 1, 2, 1, 2)), (0, (2, 2)))


def gradient_figure() -> list[tuple[str, str]]:
    """Two panels: the gradient k steps back at init_params, and with the keep entries near 0.95."""
    panels = []
    for setting, title in (
        ("default", _("At init_params")),
        ("kept", _("Keep entries near {value}").format(value=f"{F.KEEP_NEAR:g}")),
    ):
        fig, ax = F.panel()
        for name, style in zip((*BESIDE, *NEW), STYLES, strict=True):
            colour = F.CELL_COLOURS[name]
            norms = np.array([np.linalg.norm(v) for v in adjoints(name, setting)]) / np.sqrt(F.BATCH)
            ax.plot(F.BACK, np.where(norms > 0, norms, np.nan), color=colour, linestyle=style, label=name)
        F._log_axis(ax, F.STATE_GRADIENT)
        ax.set_title(title)
        # under the axes: six curves leave no corner of the panel free
        ax.legend(frameon=False, ncol=3, fontsize=12, loc="upper center", bbox_to_anchor=(0.5, -0.22))
        panels.append((f"{title}: the gradient reaching k steps back", F.svg(fig)))
    return panels


def rates() -> list[dict]:
    """Per cell: the fitted factor per step back in each setting, and for a diagonal
    recurrence the geometric mean of its keep factor over the run."""
    out = []
    for name in (*BESIDE, *NEW):
        row: dict = {"cell": name, "diagonal": recurrence_jacobian(CATALOGUE[name])["diagonal"]}
        for setting in SETTINGS:
            norms = np.array([np.linalg.norm(v) for v in adjoints(name, setting)])
            row[setting] = F._rate(norms)
            if row["diagonal"]:
                module, params, x, _ = _problem(name, setting)
                _, cache = module.forward(params, x)
                keep = np.abs(keep_factors(CATALOGUE[name], params, cache))
                row[f"{setting}_keep"] = float(np.exp(np.log(keep).mean()))
                row[f"{setting}_check"] = product_check(name, setting)
        out.append(row)
    return out


# --- the sLSTM without its stabiliser ------------------------------------------------

OVERFLOW = {"steps": 1024, "batch": 8, "inputs": 32, "hidden": 64, "seed": 0}


def _finite(dtype, scale: float, settings: dict = OVERFLOW) -> bool:
    """Whether the sLSTM's forward and backward stay finite on inputs of standard deviation
    ``scale`` (its init_params, a loss on every output)."""
    module = generated("slstm")
    rng = np.random.default_rng(settings["seed"])
    params = module.init_params(settings["inputs"], settings["hidden"], rng=rng, dtype=dtype)
    shape = (settings["steps"], settings["batch"], settings["inputs"])
    x = (scale * rng.normal(size=shape)).astype(dtype)
    with np.errstate(all="ignore"):
        outputs, cache = module.forward(params, x)
        d_params, d_x, d_state = module.backward(cache, {"h": np.ones_like(outputs["h"])})
    arrays = [*outputs.values(), *d_params.values(), d_x, *d_state.values()]
    return all(np.isfinite(a).all() for a in arrays)


@functools.cache
def overflow_scale(dtype_name: str, settings: tuple = tuple(OVERFLOW.items())) -> tuple[float, float]:
    """(finite at, not finite at): the scale of the inputs where the sLSTM stops being
    finite, bracketed within 2 % by bisection on a log scale between 1 and 10^4."""
    dtype, given = np.dtype(dtype_name).type, dict(settings)
    low, high = 1.0, 1e4
    if not _finite(dtype, low, given) or _finite(dtype, high, given):
        raise RuntimeError(f"the sLSTM's {dtype_name} range is not within [1, 1e4]")
    while high / low > 1.02:
        middle = float(np.sqrt(low * high))
        low, high = (middle, high) if _finite(dtype, middle, given) else (low, middle)
    return low, high


def slstm_range() -> dict:
    """Where exp overflows in each precision, and the measured range of the inputs."""
    return {
        "settings": OVERFLOW,
        "dtypes": [
            {
                "dtype": name,
                "exp": float(np.log(np.finfo(name).max)),
                "range": overflow_scale(name),
            }
            for name in ("float32", "float64")
        ],
    }


# --- the race ------------------------------------------------------------------------


def race_record(root: Path) -> dict:
    """records/adding.json's LSTM and GRU runs with records/adding-2024.json's, as one record
    of the race; the two must have been run with the same settings but their cells."""
    folder = root / "records"
    found = {}
    for name in ("adding", "adding-2024"):
        path = folder / f"{name}.json"
        if not path.is_file():
            raise MissingRecord(
                f"records/{name}.json is missing: run `python -m derive train {name} --record` and commit it"
            )
        found[name] = json.loads(path.read_text())
    old, new = found["adding"], found["adding-2024"]
    same = {k: v for k, v in old["settings"].items() if k != "cells"}
    if same != {k: v for k, v in new["settings"].items() if k != "cells"}:
        raise RuntimeError(
            "records/adding.json and records/adding-2024.json were run with different settings: "
            "run `python -m derive train adding-2024 --record` again"
        )
    runs = [r for r in old["runs"] if r["cell"] in BESIDE] + new["runs"]
    cells = [*BESIDE, *new["settings"]["cells"]]
    return dict(
        old, settings=dict(old["settings"], cells=cells), runs=runs, commands=[old["command"], new["command"]]
    )


def best(record: dict) -> dict:
    """At the longest lag: the new cell and the older cell with the least mean held-out
    error over the seeds, and those errors."""
    lag = max(r["lag"] for r in record["runs"])
    mean = {
        c: float(np.mean([r["test_mse"] for r in record["runs"] if r["cell"] == c and r["lag"] == lag]))
        for c in record["settings"]["cells"]
    }
    new = min((c for c in mean if c not in BESIDE), key=mean.__getitem__)
    old = min(BESIDE, key=mean.__getitem__)
    return {"lag": lag, "new": new, "new_error": mean[new], "old": old, "old_error": mean[old]}


def context(root: Path) -> tuple[dict, Callable[[], dict[str, str]]]:
    from ..training.experiments import SOLVED
    from ..training.tasks import ADDING_BASELINE, ADDING_INPUTS
    from . import training_figures

    rng = np.random.default_rng(0)
    a, b, s0 = rng.uniform(0, 1, (scan.STEPS, 3)), rng.normal(size=(scan.STEPS, 3)), rng.normal(size=3)
    record = race_record(root)
    ctx = {
        "jacobians": {name: recurrence_jacobian(CATALOGUE[name]) for name in (*BESIDE, *NEW)},
        "rates": rates(),
        "slstm": slstm_range(),
        "scan": {
            "steps": scan.STEPS,
            "rounds": len(scan.doubling(scan.STEPS)) - 1,
            "difference": float(np.max(np.abs(scan.scanned(a, b, s0) - scan.sequential(a, b, s0)))),
            "alt": scan.describe(),
        },
        "race": race(record),
        "record": record,
    }
    ctx["rate"] = {row["cell"]: row for row in ctx["rates"]}
    ctx["largest_check"] = max(v for row in ctx["rates"] for k, v in row.items() if k.endswith("_check"))
    # The cell's own parameters at the race's sizes (the read-out's are the same for all).
    sizes = {N_INPUT: ADDING_INPUTS, N_HIDDEN: record["settings"]["hidden"]}
    ctx["inputs"] = ADDING_INPUTS
    ctx["parameters"] = {
        c: int(sum(p.symbol.shape[0] * p.symbol.shape[1] for p in CATALOGUE[c].parameters).subs(sizes))
        for c in record["settings"]["cells"]
    }
    ctx["best"] = best(record)

    def drawn() -> dict[str, str]:
        return {
            "scan": scan.figure(),
            "recurrences_race": training_figures.race_loss(record, ADDING_BASELINE, SOLVED),
        }

    return ctx, drawn
