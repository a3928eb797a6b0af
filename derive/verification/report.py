"""Everything ``python -m derive verify`` checks, for one cell, as a report.

>>> from derive import CATALOGUE, verify
>>> report = verify(CATALOGUE["rnn"])
>>> report.holds
True
"""

from __future__ import annotations

import json
import types
from dataclasses import dataclass

from ..cell import Cell
from ..printing.text import columns
from .proof import Proof


@dataclass(frozen=True)
class Report:
    """The outcome of every proof and check of one or more cells."""

    rows: tuple[Proof, ...]

    @property
    def holds(self) -> bool:
        return all(r.holds for r in self.rows)

    @property
    def failures(self) -> tuple[Proof, ...]:
        return tuple(r for r in self.rows if not r.holds)

    def dumps(self) -> str:
        """The report as the JSON that `verify --record` keeps and the site reads
        (differences to three digits, no times: the record changes only with the results)."""
        rows = [
            {
                "cell": r.cell,
                "claim": r.claim,
                "entries": r.entries,
                "max_relative_difference": float(f"{r.max_relative_difference:.2e}"),
                "tolerance": r.tolerance,
            }
            for r in self.rows
        ]
        record = {"generated_by": "python -m derive verify --record records/verify.json", "rows": rows}
        return json.dumps(record, indent=2, sort_keys=True) + "\n"

    def __str__(self) -> str:
        header = ("cell", "claim", "entries", "max rel. diff", "tolerance", "seconds", "")
        rows = [
            (
                r.cell,
                r.claim,
                str(r.entries),
                f"{r.max_relative_difference:.1e}",
                f"{r.tolerance:.0e}",
                f"{r.seconds:.2f}",
                "ok" if r.holds else "FAILED",
            )
            for r in self.rows
        ]
        widths = [max(columns(row[k]) for row in (header, *rows)) for k in range(len(header))]
        return "\n".join(
            "  ".join(c + " " * (w - columns(c)) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in (header, *rows)
        )


CLAIMS = ("step", "bptt", "jacobians", "code")


def check(cell: Cell, claim: str) -> list[Proof]:
    """One claim about ``cell``: the derivation of one step, of BPTT over three steps,
    the Jacobians (each proved by ``sympy.diff``), or the generated module (against
    the derivation at 30 digits and against finite differences)."""
    from ..derivation import derive
    from . import proof
    from .numeric import check_module

    d = derive(cell)
    if claim == "step":
        return [proof.prove_bptt(d, n_input=2, n_hidden=3, steps=1)]
    if claim == "bptt":
        return [proof.prove_bptt(d, n_input=2, n_hidden=3, steps=3)]
    if claim == "jacobians":
        return [proof.prove_jacobians(d, n_input=2, n_hidden=3)]
    if claim == "code":
        return check_module(_module(cell), d)
    raise ValueError(f"unknown claim {claim!r}; the claims are {', '.join(CLAIMS)}")


def verify(cell: Cell) -> Report:
    """Every claim about ``cell``, as a :class:`Report`; raises nothing when the
    checks merely fail (``report.holds`` says), only when the cell is unusable."""
    return Report(tuple(row for claim in CLAIMS for row in check(cell, claim)))


def _module(cell: Cell) -> types.ModuleType:
    """The committed module of a catalogue cell; for any other cell, a fresh one,
    not checked when generated, since the checks here report on it."""
    from ..backends import module_source
    from ..catalogue import CATALOGUE
    from ..codegen.modules import generated, load

    if CATALOGUE.get(cell.name) == cell:
        return generated(cell.name)
    return load(module_source(cell, check=False), cell.name)
