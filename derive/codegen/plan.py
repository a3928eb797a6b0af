"""What the fused lowering stacks, hoists, keeps and sums after the loop: a frozen plan.

Each pass below is a function from the derivation (and the results of the
passes before it) to frozen data, and can be tested alone.  A fusion is taken
only where the derivation's own terms match it exactly; everything else stays
in the literal form of its equation.  So the plan can make the code slower,
never wrong: every term of every adjoint is computed once, either by a
fused product or as the derivation writes it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

from sympy import HadamardProduct, MatAdd, MatMul, MatrixExpr, MatrixSymbol

from .. import algebra as A
from .. import elementwise, naming
from ..cell import N_HIDDEN, Cell
from ..derivation import Derivation


@dataclass(frozen=True)
class Pre:
    """A pre-activation: the argument of the function an equation applies last.

    Its value lives in columns ``index*n:(index+1)*n`` of the step's blocks (counted
    from the start of its group's array, see :func:`groups`), and so does its
    adjoint ``δz`` in the backward pass.
    """

    index: int
    equation: MatrixSymbol  # v
    function: str
    adjoint: MatrixSymbol  # δz_v
    linear: tuple[tuple[MatrixSymbol, MatrixExpr], ...]  # terms W @ operand
    biases: tuple[MatrixSymbol, ...]  # terms b
    rest: tuple[MatrixExpr, ...]  # every other term


@dataclass(frozen=True)
class Span:
    """Products with one operand whose pre-activations sit side by side in the
    block: one matrix product with the weights stacked."""

    name: str
    operand: MatrixExpr
    members: tuple[tuple[MatrixSymbol, int], ...]  # (weight, pre index), in block order
    hoisted: bool  # the operand is the input: one product for every step, before the loop
    weights: str = ""  # the stacked weights' array, (operand rows, k·n): operand @ weights
    rows: str = ""  # the same weights stacked as rows, (k·n, operand rows), for the backward products
    product: str = ""  # the product's array inside the loop
    gradient: str = ""  # the stacked weights' gradient, after the loop

    @property
    def start(self) -> int:
        return self.members[0][1]

    @property
    def stop(self) -> int:
        return self.members[-1][1] + 1


@dataclass(frozen=True)
class Piece:
    """One term of a gradient that is computed after the backward loop: member
    ``member`` of span ``span``'s stacked product, or the batch sum of column
    block ``block`` (a bias)."""

    span: str | None = None
    member: int = 0
    block: int = 0


@dataclass(frozen=True)
class Options:
    """The plan's choices that a backend tunes to its library; every other pass is neutral.

    ``through_exp``  adjacent functions of the form a + b / (1 + exp(c z)) (σ and tanh)
                     make one forward run, computed through one exp with each c folded
                     into the stacked weights (:func:`through_exp`): fewer calls where the
                     library's own σ is slow or missing (NumPy).  Off, a run holds one
                     function and each is computed by the backend's own call (torch's
                     fused ``sigmoid`` and ``tanh`` kernels).
    ``keep_products`` a factor of an elementwise product that holds a matrix product of
                     a value that changes from step to step (W s_{t-1} + c in
                     o ⊙ (W s_{t-1} + c)) is kept for every step, so that the backward
                     pass reads it instead of doing the product again: one more
                     (T, B, n) array for one product fewer (torch, whose products of
                     many rows are costly).  Off, the backward pass computes it again,
                     ahead of its steps.
    ``state_free``   the work that reads no state leaves the time loops (:func:`unlooped`):
                     on in every backend, since it turns a few calls per step into one call
                     per sequence; off, the loops hold every equation and adjoint, as the
                     derivation orders them.
    ``chunk_arrays`` where the loops run in chunks of steps, what only a chunk's work reads
                     (the parts the backward pass can compute again, the adjoints kept for
                     the work after the backward steps, δz) is held for one chunk, and the
                     sums over t are added to after each chunk (:func:`scratch`): in NumPy
                     every (T, B, n) array is fresh memory at every call, whose first
                     write into each page costs the kernel more than the work of the page.
                     Off (torch, whose allocator hands the same memory back from call to
                     call), they are held for every step and the sums are one product each.
    """

    through_exp: bool = True
    keep_products: bool = False
    state_free: bool = True
    chunk_arrays: bool = True


DEFAULT = Options()


@dataclass(frozen=True)
class Unlooped:
    """What is computed for every step at once, outside the time loops.

    ``before``  equations that read no state, directly or through another equation:
                every step before the forward loop, in their order
    ``parts``   the largest parts of the looped equations that read no state (1 - i and
                i ⊙ s̃ in s = (1 - i) ⊙ s_{t-1} + i ⊙ s̃): every step before the loop,
                kept for the backward pass (each is in the plan's ``kept``)
    ``after``   equations that read a state but that no step reads back (an output
                y = W_y s): every step after the forward loop
    ``backward`` the adjoints that no carried adjoint reads: every step after the
                backward loop, which holds the recurrence of the carried ones alone
    ``saved``   adjoints of the backward loop that those read, kept for the steps of a
                chunk: (adjoint, its (chunk, B, n) array)
    ``scratch`` the parts held for one chunk of steps only, in a (chunk, B, n) array
                made once a call: those the backward pass does not read, and those it
                computes again ahead of its steps (elementwise work on values the cache
                holds, 1 - i), which costs less than a (T, B, n) array whose every page
                is fresh memory at every call
    """

    before: tuple[str, ...] = ()
    parts: tuple[MatrixSymbol, ...] = ()
    scratch: tuple[MatrixSymbol, ...] = ()
    after: tuple[str, ...] = ()
    backward: tuple[str, ...] = ()
    saved: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Plan:
    pres: tuple[Pre, ...]
    spans: tuple[Span, ...]
    kept: tuple[tuple[MatrixExpr, MatrixSymbol], ...]  # sub-expressions kept for every step
    forward_runs: tuple[tuple[int, ...], ...]  # pre indices that one call of their function computes
    backward_runs: tuple[tuple[int, ...], ...]  # pre indices whose δv lives in δz's columns
    after: tuple[tuple[str, tuple[Piece, ...]], ...]  # gradient -> its terms done after the loop
    remainder: tuple[tuple[str, MatrixExpr | None], ...]  # gradient -> its terms done in the loop
    sequences: tuple[tuple[str, str], ...]  # equation or kept name -> its (T, B, n) array
    scales: tuple[int, ...] = ()  # pre index -> the factor its block is computed scaled by
    groups: tuple[tuple[int, int], ...] = ()  # (start, stop): the pre indices each array of blocks holds
    exp_runs: tuple[tuple[int, ...], ...] = ()  # the forward runs computed through one exp
    unlooped: Unlooped = Unlooped()

    @property
    def width(self) -> int:
        return len(self.pres)


def plan(derivation: Derivation, taken: set[str], options: Options = DEFAULT) -> Plan:
    """The plan of ``derivation``; ``taken`` holds the names already used in the
    generated code, so that the names the plan makes do not collide with them;
    ``options`` the backend's choices."""
    namer = Namer(taken | derivation_names(derivation))
    pres = preactivations(derivation)
    runs = forward_runs(derivation, pres, options.through_exp)
    free = state_free(derivation, pres) if options.state_free else Unlooped()
    if inner := inside_runs(runs, pres, free.before):
        free = state_free(derivation, pres, inner)
    runs = split_runs(runs, pres, free.before)
    exp_runs = tuple(run for run in runs if options.through_exp and through_exp(pres, run))
    slopes = tuple(
        run
        for run in backward_runs(derivation, pres)
        if not any(pres[k].adjoint.name in free.backward for k in run)
    )
    cuts = groups(pres, stack(pres, derivation, Namer(())), [*runs, *slopes])
    spans = stack(pres, derivation, namer, cuts)
    kept = keep(derivation, pres, spans, namer, options.keep_products)
    outside = {*free.before, *free.after, *(pre.equation.name for pre in pres)}
    parts = free_parts(derivation, free.before, outside, namer) if options.state_free else ()
    kept = (*kept, *((e, s) for e, s in parts if e not in dict(kept)))
    held = dict(kept)
    free = replace(
        free,
        parts=tuple(held[e] for e, _ in parts),
        scratch=scratch(derivation, parts, held, free.after) if options.chunk_arrays else (),
        saved=tuple((name, namer(name + "_seq")) for name, _ in free.saved),
    )
    after, remainder = sums_after_loop(derivation, pres, spans)
    in_block = {pre.equation for pre in pres}
    own = [eq.name for eq in derivation.cell.equations if eq.symbol not in in_block]
    sequences = tuple((name, namer(name + "_seq")) for name in [*own, *(s.name for _, s in kept)])
    return Plan(
        pres=pres,
        spans=spans,
        kept=kept,
        forward_runs=runs,
        scales=scales(pres, exp_runs),
        backward_runs=slopes,
        after=tuple(after.items()),
        remainder=tuple(remainder.items()),
        sequences=sequences,
        groups=cuts,
        exp_runs=exp_runs,
        unlooped=free,
    )


class Namer:
    """Fresh names for what the generated code makes: ``base``, else ``base_2``, ..."""

    def __init__(self, taken: Iterable[str]) -> None:
        self.taken = set(taken)

    def __call__(self, base: str) -> str:
        name, k = base, 1
        while name in self.taken:
            k += 1
            name = f"{base}_{k}"
        self.taken.add(name)
        return name


def derivation_names(derivation: Derivation) -> set[str]:
    cell = derivation.cell
    out = {s.name for s in (*cell.parameter_symbols, *cell.input_symbols, *cell.prev_symbols)}
    out |= {a.target.name for a in (*derivation.forward, *derivation.intermediates, *derivation.backward)}
    out |= {c.incoming.name for c in derivation.carries}
    return out


def _terms(expr: MatrixExpr | None) -> list[MatrixExpr]:
    """The summands of ``expr``; none for ``None``, which is zero."""
    if expr is None:
        return []
    return list(expr.args) if isinstance(expr, MatAdd) else [expr]


def _steps_with(expr: MatrixExpr, cell: Cell) -> bool:
    """Whether ``expr`` changes from step to step (reads an input, a state or an equation)."""
    parameters = set(cell.parameter_symbols)
    return any(s not in parameters for s in expr.free_symbols)


def preactivations(derivation: Derivation) -> tuple[Pre, ...]:
    """Pass 1: the equations ``v = f(z)`` whose argument ``z`` the derivation names ``z_v``."""
    cell = derivation.cell
    named = {a.target.name: a.value for a in derivation.intermediates}
    matrices = {p.symbol for p in cell.parameters if p.cols != "1"}
    vectors = {p.symbol for p in cell.parameters if p.cols == "1"}
    pres: list[Pre] = []
    for eq in cell.equations:
        z = naming.preactivation(eq.name)
        if not isinstance(eq.rhs, A.Apply) or named.get(z) != eq.rhs.arg:
            continue
        linear: list[tuple[MatrixSymbol, MatrixExpr]] = []
        biases: list[MatrixSymbol] = []
        rest: list[MatrixExpr] = []
        for term in _terms(eq.rhs.arg):
            if (
                isinstance(term, MatMul)
                and len(term.args) == 2
                and term.args[0] in matrices
                and _steps_with(term.args[1], cell)
            ):
                linear.append((term.args[0], term.args[1]))
            elif term in vectors:
                biases.append(term)
            else:
                rest.append(term)
        pres.append(
            Pre(
                len(pres),
                eq.symbol,
                eq.rhs.function,
                MatrixSymbol(naming.adjoint(z), *eq.rhs.shape),
                tuple(linear),
                tuple(biases),
                tuple(rest),
            )
        )
    return tuple(pres)


def stack(
    pres: Sequence[Pre],
    derivation: Derivation,
    namer: Namer,
    groups: Sequence[tuple[int, int]] = (),
) -> tuple[Span, ...]:
    """Pass 2: the linear terms grouped by operand, each group cut into runs of
    adjacent pre-activations that lie in one of ``groups`` (one array of blocks).
    A product of the input is hoisted out of the loop."""
    starts = {start for start, _ in groups}
    cell = derivation.cell
    # operand -> its (weight, pre index), in block order
    by_operand: dict[MatrixExpr, list[tuple[MatrixSymbol, int]]] = {}
    for pre in pres:
        for matrix, operand in pre.linear:
            by_operand.setdefault(operand, []).append((matrix, pre.index))
    operand_names = {a.value: a.target.name for a in derivation.intermediates}
    span_namer = Namer(())
    spans: list[Span] = []

    def close(operand: MatrixExpr, run: list[tuple[MatrixSymbol, int]], hoisted: bool) -> None:
        base = span_namer(
            operand.name if isinstance(operand, MatrixSymbol) else operand_names.get(operand, "operand")
        )
        spans.append(
            Span(
                base,
                operand,
                tuple(run),
                hoisted,
                weights=namer("weights_" + base),
                rows=namer("weights_" + base + "_rows"),
                product=namer("z_" + base),
                gradient=namer("d_weights_" + base),
            )
        )

    for operand, members in by_operand.items():
        hoisted = operand in cell.input_symbols
        run = [members[0]]
        for member in members[1:]:
            if member[1] != run[-1][1] + 1 or member[1] in starts:
                close(operand, run, hoisted)
                run = []
            run.append(member)
        close(operand, run, hoisted)
    return tuple(spans)


def groups(
    pres: Sequence[Pre], spans: Sequence[Span], runs: Sequence[Sequence[int]]
) -> tuple[tuple[int, int], ...]:
    """Pass 2b: the blocks cut into arrays of their own, (start, stop) each, so that
    every product inside the loop reads and writes whole rows of one array: its
    operand's δz and pre-activations then sit in contiguous memory, not in a strided
    slice of wider rows (the GRU's W_o, W_i beside W).  A cut is made at each end of
    such a product's span, except inside another such span or inside a run of blocks
    that one call computes (``runs``), which would cost a call more than it saves."""
    looped = [(s.start, s.stop) for s in spans if not s.hoisted]
    inside = [*looped, *((run[0], run[-1] + 1) for run in runs)]
    cuts = sorted(
        {k for span in looped for k in span if 0 < k < len(pres)}
        - {k for start, stop in inside for k in range(start + 1, stop)}
    )
    bounds = [0, *cuts, len(pres)] if pres else []
    return tuple(pairwise(bounds))


def keep(
    derivation: Derivation,
    pres: Sequence[Pre],
    spans: Sequence[Span],
    namer: Namer,
    products: bool = False,
) -> tuple[tuple[MatrixExpr, MatrixSymbol], ...]:
    """Pass 3: sub-expressions computed once per step and kept for the backward
    pass: elementwise functions inside an equation (tanh(s) in h = o ⊙ tanh(s);
    not tanh(W), which is the same at every step and has no row per sequence),
    and operands of stacked products that are not a plain symbol (o ⊙ s_prev);
    with ``products``, factors of an elementwise product that hold a matrix product
    of a value that changes from step to step (W s_prev + c in o ⊙ (W s_prev + c))."""
    top = {eq.rhs for eq in derivation.cell.equations}
    intermediates = {a.value: a.target for a in derivation.intermediates}
    found: dict[MatrixExpr, MatrixSymbol] = {}
    for eq in derivation.cell.equations:
        for node in A.walk(eq.rhs):
            if (
                isinstance(node, A.Apply)
                and node is not eq.rhs
                and node not in top
                and node not in found
                and _steps_with(node, derivation.cell)
            ):
                inner = node.arg.name if isinstance(node.arg, MatrixSymbol) else eq.name
                found[node] = MatrixSymbol(namer(f"{node.function}_{inner}"), *node.shape)
            if products and isinstance(node, HadamardProduct) and node is not eq.rhs:
                for factor in node.args:
                    if (
                        factor not in found
                        and factor not in top
                        and not isinstance(factor, MatrixSymbol)
                        and _holds_product(factor, derivation.cell)
                    ):
                        found[factor] = MatrixSymbol(namer(f"product_{eq.name}"), *factor.shape)
    for span in spans:
        if (
            not isinstance(span.operand, MatrixSymbol)
            and span.operand not in found
            and span.operand not in top
        ):
            # The derivation's name of the operand, when it has one, means this same value.
            found[span.operand] = intermediates.get(span.operand) or MatrixSymbol(
                namer(span.name), *span.operand.shape
            )
    return tuple(found.items())


def _holds_product(expr: MatrixExpr, cell: Cell) -> bool:
    """Whether ``expr`` holds a product of a parameter and a value that changes from step to step."""
    parameters = set(cell.parameter_symbols)
    return any(
        isinstance(node, MatMul) and node.args[0] in parameters and _steps_with(node, cell)
        for node in A.walk(expr)
    )


def forward_runs(
    derivation: Derivation, pres: Sequence[Pre], exp_together: bool = True
) -> tuple[tuple[int, ...], ...]:
    """Pass 4: adjacent equations that apply one function to adjacent pre-activations
    and do not read each other: one call computes them all.  With ``exp_together``,
    functions of the form a + b / (1 + exp(c z)) (σ and tanh) make one run together,
    computed through one exp (:func:`through_exp`)."""
    order = [eq.symbol for eq in derivation.cell.equations]
    position = {pre.index: order.index(pre.equation) for pre in pres}
    rhs = {eq.symbol: eq.rhs for eq in derivation.cell.equations}
    runs: list[list[int]] = []
    for pre in pres:
        run = runs[-1] if runs else None
        if (
            run
            and (
                pres[run[-1]].function == pre.function
                or (exp_together and _exp_form(pres[run[-1]].function) and _exp_form(pre.function))
            )
            and position[pre.index] == position[run[-1]] + 1
            and not {pres[k].equation for k in run} & rhs[pre.equation].free_symbols
        ):
            run.append(pre.index)
        else:
            runs.append([pre.index])
    return tuple(tuple(r) for r in runs)


def _exp_form(function: str) -> tuple[int, int, int] | None:
    return elementwise.FUNCTIONS[function].through_exp


def through_exp(pres: Sequence[Pre], run: Sequence[int]) -> bool:
    """Whether the forward run ``run`` is computed through one exp: each of its
    pre-activations scaled by its function's c inside the weights, then exp, + 1 and
    a reciprocal over the run, then a + b · over the columns whose (a, b) is not
    (0, 1).  Taken where it saves a pass: where some function of the run is σ-like,
    (a, b) = (0, 1); a run of tanh alone keeps its own helper."""
    forms = [_exp_form(pres[k].function) for k in run]
    return all(forms) and any(f[:2] == (0, 1) for f in forms if f)


def scales(pres: Sequence[Pre], exp_runs: Sequence[Sequence[int]]) -> tuple[int, ...]:
    """The factor each pre-activation is computed scaled by: c in a run through exp, else 1."""
    out = [1] * len(pres)
    for run in exp_runs:
        for k in run:
            form = _exp_form(pres[k].function)
            assert form is not None
            out[k] = form[2]
    return tuple(out)


def backward_runs(derivation: Derivation, pres: Sequence[Pre]) -> tuple[tuple[int, ...], ...]:
    """Pass 5: runs of pre-activations under one function whose δv is read only by
    δz_v = δv ⊙ f'(v), and whose δz nothing reads before the run's last δz is
    written.  Each δv is then written into its columns of δz, and one
    multiplication by f' over the run's columns makes them δz."""
    backward = derivation.backward
    readers: dict[MatrixSymbol, set[MatrixSymbol]] = {}  # symbol -> the adjoints that read it
    for a in backward:
        for s in a.value.free_symbols:
            readers.setdefault(s, set()).add(a.target)
    position = {a.target: k for k, a in enumerate(backward)}
    eligible: list[bool] = []
    for pre in pres:
        d_v = MatrixSymbol(naming.adjoint(pre.equation.name), *pre.equation.shape)
        shaped = derivation_value(derivation, pre.adjoint) == A.hadamard(
            d_v, elementwise.derivative(pre.function, pre.equation)
        )
        eligible.append(shaped and readers.get(d_v) == {pre.adjoint})
    runs: list[list[int]] = []
    for pre in pres:
        if not eligible[pre.index]:
            continue
        run = runs[-1] if runs else None
        if run and run[-1] == pre.index - 1 and pres[run[-1]].function == pre.function:
            run.append(pre.index)
        else:
            runs.append([pre.index])
    out: list[tuple[int, ...]] = []
    for run in runs:
        # The δz of the run are complete after the last of them is written.
        written = max(position[pres[k].adjoint] for k in run)
        first_read = min(
            (position[r] for k in run for r in readers.get(pres[k].adjoint, ())), default=len(backward)
        )
        if len(run) >= 2 and first_read > written:
            out.append(tuple(run))
    return tuple(out)


def state_free(derivation: Derivation, pres: Sequence[Pre], looped: Iterable[str] = ()) -> Unlooped:
    """Pass 0: the equations and adjoints that leave the time loops (:class:`Unlooped`;
    its ``parts`` are found by :func:`free_parts`, and ``saved`` holds the adjoints to
    keep, with no array named yet).

    An equation reads a state if its right-hand side holds a previous state or an
    equation that reads one.  The forward loop then needs the equations that the
    previous states read back, and what they read: the rest of those that read a state
    (all but pre-activations, whose products and blocks belong to the loop's step)
    wait until after the loop.  The backward loop needs the carried adjoints δ̄v_{t-1}
    and what they read; every other adjoint follows after it, from the kept adjoints.
    The equations ``looped`` stay in the loop as if they read a state, and so do the
    pre-activations whose products the loop's step does (:func:`stepped_products`).
    """
    looped = {*looped, *stepped_products(derivation, pres)}
    cell = derivation.cell
    equations = {eq.symbol: eq for eq in cell.equations}
    prevs = set(cell.prev_symbols)
    reading: set[MatrixSymbol] = set()
    for eq in cell.equations:
        if eq.name in looped or eq.rhs.free_symbols & (prevs | reading):
            reading.add(eq.symbol)
    before = tuple(eq.name for eq in cell.equations if eq.symbol not in reading)

    def closure(start: Iterable[MatrixSymbol]) -> set[MatrixSymbol]:
        out: set[MatrixSymbol] = set()
        todo = list(start)
        while todo:
            symbol = todo.pop()
            if symbol in out or symbol not in equations:
                continue
            out.add(symbol)
            todo += equations[symbol].rhs.free_symbols
        return out

    read = set().union(*(eq.rhs.free_symbols for eq in cell.equations))
    read_back = [
        equations[eq.symbol].symbol
        for eq in cell.equations
        for state, prev in zip(cell.states, cell.prev_symbols, strict=True)
        if eq.name == state and prev in read
    ]
    looped = closure([*read_back, *(pre.equation for pre in pres if pre.equation in reading)])
    after = tuple(eq.name for eq in cell.equations if eq.symbol in reading and eq.symbol not in looped)

    # The backward loop: the carried adjoints and what they read, through the step.
    values = {a.target: a.value for a in derivation.backward}
    needed: set[MatrixSymbol] = set()
    todo: list[MatrixSymbol] = [c.carried for c in derivation.carries]
    while todo:
        symbol = todo.pop()
        if symbol in needed or symbol not in values:
            continue
        needed.add(symbol)
        todo += values[symbol].free_symbols
    unlooped = [a for a in derivation.backward if a.target not in needed]
    inside = {a.target for a in derivation.backward if a.target in needed}
    inside |= {c.incoming for c in derivation.carries}
    in_blocks = {pre.adjoint for pre in pres}
    saved = tuple(
        (name, "")
        for name in dict.fromkeys(
            s.name
            for a in unlooped
            for s in sorted(a.value.free_symbols, key=str)
            if s in inside and s not in in_blocks
        )
    )
    return Unlooped(before=before, after=after, backward=tuple(a.target.name for a in unlooped), saved=saved)


def stepped_products(derivation: Derivation, pres: Sequence[Pre]) -> set[str]:
    """The pre-activations with a product of something other than the input (W g, g an
    equation): the stacked product of its operand is done in the loop, one step at a time."""
    inputs = set(derivation.cell.input_symbols)
    return {pre.equation.name for pre in pres if any(operand not in inputs for _, operand in pre.linear)}


def inside_runs(runs: Sequence[Sequence[int]], pres: Sequence[Pre], before: Sequence[str]) -> set[str]:
    """The pre-activations that read no state but sit inside a forward run, between two
    that do: taken out, they would cut one call of the loop's step in two."""
    out: set[str] = set()
    for run in runs:
        looped = [j for j, k in enumerate(run) if pres[k].equation.name not in before]
        if looped:
            out |= {pres[k].equation.name for k in run[looped[0] : looped[-1] + 1]} & set(before)
    return out


def split_runs(
    runs: Sequence[Sequence[int]], pres: Sequence[Pre], before: Sequence[str]
) -> tuple[tuple[int, ...], ...]:
    """The forward runs cut where they cross between the pre-activations computed
    before the loop (``before``) and those computed in it: one call does one or the other."""
    out: list[tuple[int, ...]] = []
    for run in runs:
        piece = [run[0]]
        for k in run[1:]:
            if (pres[k].equation.name in before) != (pres[piece[-1]].equation.name in before):
                out.append(tuple(piece))
                piece = []
            piece.append(k)
        out.append(tuple(piece))
    return tuple(out)


def free_parts(
    derivation: Derivation, before: Sequence[str], outside: set[str], namer: Namer
) -> tuple[tuple[MatrixExpr, MatrixSymbol], ...]:
    """Pass 0b: in each equation left in the forward loop (but those of ``outside``:
    the pre-activations, whose blocks the loop fills, and the equations done outside
    the loop whole), the largest parts that read
    no state and change from step to step: a sum's terms that read none are one part,
    and so are a product's factors (1 - i and i ⊙ s̃ in s = (1 - i) ⊙ s_{t-1} + i ⊙ s̃,
    which leaves the loop s_t = a_t ⊙ s_{t-1} + b_t).  A plain symbol is no part: it
    holds its values already.  That recurrence stays a loop of two calls a step: NumPy
    has no exact and stable form of it (a cumulative product of the a_t, then a
    division by it, loses every digit where the a_t are small)."""
    cell = derivation.cell
    free = {MatrixSymbol(name, *cell.equation(name).symbol.shape) for name in before}
    free |= set(cell.parameter_symbols) | set(cell.input_symbols)
    found: dict[MatrixExpr, MatrixSymbol] = {}

    def is_free(expr: MatrixExpr) -> bool:
        return expr.atoms(MatrixSymbol) <= free

    def part(expr: MatrixExpr, eq: str) -> None:
        if (
            not isinstance(expr, MatrixSymbol)
            and expr.shape == (N_HIDDEN, 1)
            and expr.atoms(MatrixSymbol) - set(cell.parameter_symbols)
            and expr not in found
        ):
            found[expr] = MatrixSymbol(namer(f"{eq}_part"), *expr.shape)

    def visit(expr: MatrixExpr, eq: str) -> None:
        if is_free(expr):
            part(expr, eq)
            return
        if isinstance(expr, (HadamardProduct, MatAdd)):
            grouped = [a for a in expr.args if is_free(a)]
            if grouped:
                part(A.hadamard(*grouped) if isinstance(expr, HadamardProduct) else A.add(*grouped), eq)
            for a in expr.args:
                if not is_free(a):
                    visit(a, eq)
            return
        for a in expr.args:
            if isinstance(a, MatrixExpr):
                visit(a, eq)

    for eq in cell.equations:
        if eq.name not in outside:
            visit(eq.rhs, eq.name)
    return tuple(found.items())


def scratch(
    derivation: Derivation,
    parts: Sequence[tuple[MatrixExpr, MatrixSymbol]],
    held: Mapping[MatrixExpr, MatrixSymbol],
    after: Iterable[str] = (),
) -> tuple[MatrixSymbol, ...]:
    """Pass 0c: the ``parts`` that need no (T, B, n) array, only one for a chunk of
    steps: each that no backward value reads, and each with no matrix product, which the
    backward pass computes again from the values it reads anyway (1 - i, from i).  A
    part the plan keeps for another reason (``held`` names it otherwise), or that an
    equation computed after the forward loop (``after``) reads, keeps its array."""
    cell = derivation.cell
    out: list[MatrixSymbol] = []
    for expr, symbol in parts:
        if held[expr] != symbol or any(cell.equation(name).rhs.has(expr) for name in after):
            continue
        read = any(a.value.has(expr) for a in derivation.backward)
        if not read or not _has_product(expr):
            out.append(symbol)
    return tuple(out)


def derivation_value(derivation: Derivation, target: MatrixSymbol) -> MatrixExpr | None:
    """The value the backward pass assigns to ``target``; ``None`` if it assigns none."""
    return next((a.value for a in derivation.backward if a.target == target), None)


def sums_after_loop(
    derivation: Derivation, pres: Sequence[Pre], spans: Sequence[Span]
) -> tuple[dict[str, tuple[Piece, ...]], dict[str, MatrixExpr | None]]:
    """Pass 6: the terms of each parameter's gradient (and of the input's, for
    hoisted products) that one product after the loop computes for every step:
    δz_k operandᵀ for a stacked weight, δz_k for a bias, Uᵀ δz_k for the input.
    Each is taken out of the derivation's sum only if it is there, once per use;
    the rest of the sum is computed in the loop."""
    cell = derivation.cell
    gradients: dict[str, list[MatrixExpr]] = {a.target.name: _terms(a.value) for a in derivation.gradients}
    inputs = {naming.adjoint(x.name): x for x in cell.input_symbols}
    for name in inputs:
        gradients[name] = _terms(derivation_value(derivation, MatrixSymbol(name, *inputs[name].shape)))
    after: dict[str, list[Piece]] = {}

    def take(target: str, term: MatrixExpr | None, piece: Piece) -> None:
        terms = gradients[target]
        if term in terms:
            terms.remove(term)
            after.setdefault(target, []).append(piece)

    for span in spans:
        for j, (matrix, k) in enumerate(span.members):
            d = pres[k].adjoint
            take(
                naming.adjoint(matrix.name),
                A.matmul(d, A.transpose(span.operand)),
                Piece(span=span.name, member=j),
            )
            if span.hoisted:
                take(
                    naming.adjoint(span.operand.name),
                    A.matmul(A.transpose(matrix), d),
                    Piece(span=span.name, member=j),
                )
    for pre in pres:
        for b in pre.biases:
            take(naming.adjoint(b.name), pre.adjoint, Piece(block=pre.index))
    remainder = {name: A.add(*terms) for name, terms in gradients.items()}
    return {k: tuple(v) for k, v in after.items()}, remainder


def span_products(
    value: MatrixExpr, spans: Sequence[Span], pres: Sequence[Pre]
) -> tuple[list[Span], MatrixExpr | None]:
    """The spans whose every product Wᵀ δz_k is a term of ``value`` (one stacked
    product computes their sum), and the sum of the other terms."""
    terms = _terms(value)
    found: list[Span] = []
    for span in spans:
        wanted = Counter(A.matmul(A.transpose(m), pres[k].adjoint) for m, k in span.members)
        have = Counter(terms)
        if not span.hoisted and all(have[t] >= c for t, c in wanted.items()):
            found.append(span)
            for t, c in wanted.items():
                for _ in range(c):
                    terms.remove(t)
    return found, A.add(*terms)


def shared(exprs: Sequence[MatrixExpr], readable: Iterable[MatrixSymbol]) -> tuple[MatrixExpr, ...]:
    """Common sub-expressions: the elementwise sub-expressions of hidden size that occur
    more than once in ``exprs`` (f + i in f ⊘ (f + i) and i ⊘ (f + i)) and read only
    ``readable`` symbols, each to be computed once into a value of its own.  The largest
    are taken first; each is listed after those it holds, so that computed in this order
    every one can read the values before it."""
    readable = set(readable)
    exprs = list(exprs)
    found: list[MatrixExpr] = []
    stand_in: dict[MatrixExpr, MatrixSymbol] = {}
    defs: list[MatrixExpr] = []  # what each found one computes, with the stand-ins of later ones
    while True:
        counts: Counter[MatrixExpr] = Counter(
            node
            for e in [*exprs, *defs]
            for node in A.walk(e)
            if _sharable(node, readable | set(stand_in.values()))
        )
        repeated = [node for node, k in counts.items() if k > 1]
        if not repeated:
            break
        best = max(repeated, key=lambda node: (len(list(A.walk(node))), str(node)))
        symbol = MatrixSymbol(f"_shared_{len(found)}", *best.shape)
        exprs = [e.xreplace({best: symbol}) for e in exprs]
        defs = [e.xreplace({best: symbol}) for e in defs] + [best]
        found.append(best)
        stand_in[best] = symbol
    # defs[k] may read the stand-ins of later ones: those come first.
    definition = dict(zip(found, defs, strict=True))
    back = {symbol: expr for expr, symbol in stand_in.items()}
    order: list[MatrixExpr] = []

    def place(expr: MatrixExpr) -> None:
        if expr in order:
            return
        for s in definition[expr].atoms(MatrixSymbol):
            if s in back:
                place(back[s])
        order.append(expr)

    for expr in found:
        place(expr)
    return tuple(order)


def _sharable(node: MatrixExpr, readable: set[MatrixSymbol]) -> bool:
    """Whether ``node`` is worth a value of its own when it occurs twice: elementwise
    work (no matrix product) of hidden size on ``readable`` values, not a plain symbol
    or a negation."""
    if isinstance(node, MatrixSymbol) or node.shape != (N_HIDDEN, 1):
        return False
    if isinstance(node, MatMul) and len([a for a in node.args if isinstance(a, MatrixExpr)]) == 1:
        return False  # -v, c v: a scaled value costs less than its array
    symbols = node.atoms(MatrixSymbol)
    if not symbols or not symbols <= readable:
        return False
    return not _has_product(node)


def _has_product(expr: MatrixExpr) -> bool:
    """Whether ``expr`` holds a product of two matrices, what costs a GEMM (-i is
    MatMul(-1, i), a scaled value, not a product)."""
    return any(
        isinstance(e, MatMul) and sum(isinstance(a, MatrixExpr) for a in e.args) > 1 for e in A.walk(expr)
    )


__all__ = [
    "Namer",
    "Options",
    "Piece",
    "Plan",
    "Pre",
    "Span",
    "Unlooped",
    "derivation_names",
    "groups",
    "plan",
    "shared",
    "through_exp",
]
