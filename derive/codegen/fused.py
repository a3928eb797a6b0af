"""The fused lowering: the plan's products, and every other term as the derivation writes it.

Matrix products that share an operand are one product with the weights
stacked side by side; products of the input are done for every step at once
before the loop; the outputs of one function over adjacent pre-activations are
one call; weight and bias gradients, which are sums over t, are one product
each after the backward loop.  What the plan does not fuse is printed from the
derivation as it stands, so every term is computed exactly once.
"""

from __future__ import annotations

from collections.abc import Mapping

from sympy import HadamardProduct, MatAdd, MatMul, MatrixExpr, MatrixSymbol, Transpose, ZeroMatrix

from .. import algebra as A
from .. import elementwise, naming
from ..cell import N_HIDDEN
from ..derivation import Assignment, Derivation
from ..elementwise import FUNCTIONS
from ..printing.text import derivative, equation, text
from . import ir
from .code import Code
from .plan import DEFAULT as DEFAULT_OPTIONS
from .plan import Namer, Options, Piece, Plan, Pre, Span, derivation_names, plan, shared, span_products

# The node that holds each name's value, for ir.Math.
Names = Mapping[str, ir.Node]
# Sub-expression -> the symbol that already holds its value this step.
Known = Mapping[MatrixExpr, MatrixSymbol]


# The loops' indices, the chunk's length and its steps: names the lowering binds, its own.
STEP, FIRST, CHUNK, STEPS = naming.own("t"), naming.own("first"), naming.own("chunk"), naming.own("steps")

# The arrays of blocks, by their role: the pre-activations of every step and of one
# (act, z), their adjoints (dz, dz_t), ... (the generated code's own names).
ARRAYS = {base: naming.own(base) for base in ("act", "z", "dz", "dz_t", "dz_rows", "d_biases")}

# Every name the fused lowering binds as it stands (the others it makes are fresh).
OWN = frozenset({STEP, FIRST, CHUNK, STEPS, *ARRAYS.values()})

# The bytes of each array (steps × batch × hidden entries) a chunk of steps computes at
# once: small enough that the chunk's arrays stay in a core's cache, large enough that a
# chunk is few calls; and below glibc's threshold for fresh pages (128 KiB), so that a
# chunk's temporaries come from memory the process already has.  At (T, B, n) =
# (1024, 8, 64) in float64 the chunks of 8192 entries made mingru and minlstm about 5%
# faster than chunks of 16384 (128 KiB); in float32 16384 entries were as fast.
CHUNK_BYTES = 65536

# The fewest steps of a chunk whose state-free work, or whose sums over t, run beside its
# steps: that work is whole-array NumPy calls and products, and one step's worth of them
# costs more than the step's own calls save (measured at B·n = 32768, where chunks of one
# step made mingru slower than its literal module).
STATE_FREE_STEPS = 8

# The steps of a chunk of the backward loop, as an index range.
_CHUNK_STEPS = ir.Slice(FIRST, ir.Plus(FIRST, CHUNK))


def lower(
    derivation: Derivation,
    taken: frozenset[str] = frozenset(),
    chunk_bytes: int = CHUNK_BYTES,
    options: Options = DEFAULT_OPTIONS,
) -> Code:
    """The fused statements of ``derivation``; ``taken`` are the names the backend's
    template uses for itself; ``chunk_bytes`` the size of each array a chunk of steps
    computes at once; ``options`` the backend's choices of the plan."""
    taken = taken | OWN | naming.INTERFACE
    return _Fused(derivation, plan(derivation, set(taken), options), taken, chunk_bytes, options).code


class _Fused:
    def __init__(
        self, derivation: Derivation, plan: Plan, taken: frozenset[str], chunk_bytes: int, options: Options
    ) -> None:
        self.d, self.plan, self.cell = derivation, plan, derivation.cell
        made = [name for _, name in plan.sequences] + [s.name for _, s in plan.kept]
        made += [name for s in plan.spans for name in (s.weights, s.rows, s.product, s.gradient)]
        self.namer = Namer({*taken, *made, *derivation_names(derivation)})
        # The arrays of blocks, one for each group of the plan (the names alone for one):
        # base name -> the array of each group.
        self.arrays = {
            base: [own]
            if len(plan.groups) <= 1
            else [self.namer(f"{own}_{g + 1}") for g in range(len(plan.groups))]
            for base, own in ARRAYS.items()
        }
        # The backward loop's factors computed ahead: value -> symbol, and the
        # names that read each at its step; forward_values is set while backward is built.
        self.forward_values: set[str] | None = None
        self.factors: dict[MatrixExpr, MatrixSymbol] = {}
        self.factor_steps: dict[str, ir.Node] = {}
        self.slopes: list[ir.Statement] = []
        self.params = [p.name for p in self.cell.parameters]
        self.pres: dict[str, Pre] = {pre.equation.name: pre for pre in plan.pres}
        self.sequences = dict(plan.sequences)
        self.kept = dict(plan.kept)
        # The parts held for a chunk of steps only, in (chunk, B, n) arrays.
        self.scratch = {symbol.name for symbol in plan.unlooped.scratch}
        # δz is held for a chunk of STATE_FREE_STEPS or more steps only, and the sums over
        # t are added to after each chunk: one product per chunk of at least 8·B rows, and
        # no (T, B, k·n) array of fresh pages at every call (at (T, B, n) = (100, 64, 512)
        # in float64 the MGU went from 1.04 of its literal module to 0.82, the LSTM from
        # 0.76 to 0.64).
        self.chunk_arrays = options.chunk_arrays
        self.dz_chunk = options.chunk_arrays and bool(plan.width)
        # Numbers the forward loop uses (value -> the name of its 0-d array), and the
        # T + 1-row arrays of the states kept in their own (state -> name).
        self.constants: dict[int, str] = {}
        self.steps: dict[str, str] = {}
        self.chunk_bytes = chunk_bytes
        self.read: set[str] = set()
        forward = self.forward()
        self.read = set()
        backward = self.backward()
        self.code = Code(
            forward=forward,
            backward=backward,
            cache=self.cache,
            backward_params=tuple(p for p in self.params if p in self.read),
            outputs=self.outputs,
            values=self.values_of,
            d_params=self.d_params,
            d_x=self.d_x,
            d_state=self.d_state,
        )

    # Where values live -------------------------------------------------

    def group(self, index: int) -> int:
        """The group of the plan whose array holds block ``index``."""
        return next(g for g, (first, last) in enumerate(self.plan.groups) if first <= index < last)

    def block(self, array: str, lead: tuple[ir.Node, ...], start: int, stop: int) -> ir.Block:
        """Blocks ``start:stop`` of the array of blocks ``array`` ("act", "z", "dz", ...),
        in the array of their group."""
        g = self.group(start)
        first, last = self.plan.groups[g]
        assert stop <= last, "a run of blocks lies in one group"
        return ir.Block(self.arrays[array][g], lead, start - first, stop - first, last - first)

    def columns(self, array: str, lead: tuple[ir.Node, ...], index: int) -> ir.Block:
        return self.block(array, lead, index, index + 1)

    def values(self, name: str) -> ir.Node:
        """The (T, B, n) array of an equation's or a kept value's every step."""
        if name in self.pres:
            return self.columns("act", (ir.ALL, ir.ALL), self.pres[name].index)
        return self.sequences[name]

    def show(self, expr: MatrixExpr, names: Names, known: Known) -> ir.Math:
        """``expr`` as code, reading kept sub-expressions and earlier equations by name
        (and, in the backward loop, factors computed ahead by name)."""
        expr = self.ahead(expr.xreplace(known))
        self.read |= {s.name for s in expr.free_symbols}
        return ir.Math(expr, tuple({**names, **self.factor_steps}.items()))

    def store(self, target: ir.Node, expr: MatrixExpr, names: Names, known: Known) -> list[ir.Statement]:
        """``target[...] = expr`` for a view ``target``, writing the first product,
        quotient or product by a weight matrix straight into it: ``a ⊙ b ⊙ c + d`` is
        np.multiply(a, b, out=target); target *= c; target += d (no temporary array the
        size of the target, and no copy of one), in the order ``a * b * c + d`` evaluates."""
        expr = self.ahead(expr.xreplace(known))
        first, *rest = expr.args if isinstance(expr, MatAdd) else (expr,)
        op = {HadamardProduct: "multiply", A.Divide: "divide"}.get(type(first))
        # A product of parameters alone has no rows of the batch: torch's out= does not
        # spread it over the target's rows, as NumPy's does.  Where the first two factors
        # go into the target (ζ2 ⊙ ζ1 ⊙ s_{t-1}), they are that product.
        # (A scalar parameter is a column of ones times it: its sizes are not values.)
        leading = first.args[:2] if op is not None else (first,)
        values = {s for f in leading for s in f.free_symbols if isinstance(s, MatrixSymbol)}
        batched = not values <= set(self.cell.parameter_symbols)
        # A parameter matrix times rows of the batch (U x_t): the rows' product, x @ U.T.
        parameters = set(self.cell.parameter_symbols)
        weighted = isinstance(first, MatMul) and len(first.args) == 2 and first.args[0] in parameters
        out: list[ir.Statement]
        if weighted and batched:
            matrix, rows = first.args
            out = [ir.MatMulInto(self.show(rows, names, {}), self.show(Transpose(matrix), names, {}), target)]
        elif op is not None and (len(first.args) == 2 or op == "multiply") and batched:
            out = [ir.OpInto(op, tuple(self.show(arg, names, {}) for arg in first.args[:2]), target)]
        else:
            return [ir.Assign(ir.Everything(target), self.show(expr, names, {}))]
        # rows of a view are an expression, not a name: added to through [...]
        into = ir.Everything(target) if isinstance(target, (ir.Rows, ir.Block)) and _rows(target) else target
        factors = first.args[2:] if op == "multiply" else ()
        out += [ir.Assign(into, self.show(c, names, {}), "*=") for c in factors]
        return out + ([ir.Assign(into, self.show(A.add(*rest), names, {}), "+=")] if rest else [])

    # Factors ahead of the backward loop ---------------------------------

    def ahead(self, expr: MatrixExpr) -> MatrixExpr:
        """``expr`` with each largest part that does not read an adjoint (a product or
        sum of forward values, ``o ⊙ (1 - tanh(s)²)``) replaced by a factor that is
        computed for a chunk of steps at once, ahead of the steps that read it.
        Outside the backward loop (``self.forward_values`` unset) ``expr`` itself."""
        if self.forward_values is None or self.is_ahead(expr):
            return expr
        if isinstance(expr, (HadamardProduct, MatAdd)):
            ahead = [a for a in expr.args if self.is_ahead(a)]
            rest = [self.ahead(a) for a in expr.args if not self.is_ahead(a)]
            if isinstance(expr, HadamardProduct):
                grouped = A.hadamard(*ahead) if ahead else None
                return A.hadamard(*rest, *([self.factor(grouped)] if grouped is not None else []))
            grouped = A.add(*ahead)
            return A.add(*rest, *([self.factor(grouped)] if grouped is not None else []))
        if isinstance(expr, (MatMul, A.Apply)) or expr.args:
            args = [
                self.factor(a)
                if isinstance(a, MatrixExpr) and self.is_ahead(a)
                else self.ahead(a)
                if isinstance(a, MatrixExpr)
                else a
                for a in expr.args
            ]
            return expr.func(*args)
        return expr

    def is_ahead(self, expr: MatrixExpr) -> bool:
        """Whether ``expr`` reads only forward values and parameters."""
        assert self.forward_values is not None
        return all(s.name in self.forward_values or s.name in self.params for s in expr.atoms(MatrixSymbol))

    def factor(self, expr: MatrixExpr) -> MatrixExpr:
        """The factor that holds ``expr`` at each step, where it is worth one: a
        column of hidden size that changes from step to step and is not a plain value."""
        assert self.forward_values is not None
        if (
            isinstance(expr, MatrixSymbol)
            or expr.shape[1] != 1
            or expr.shape[0] != N_HIDDEN
            or not any(s.name in self.forward_values for s in expr.atoms(MatrixSymbol))
        ):
            return expr
        if expr not in self.factors:
            name = self.namer("factor_seq")
            self.factors[expr] = MatrixSymbol(name, *expr.shape)
            self.factor_steps[name] = ir.at(name, ir.Minus(STEP, FIRST))
            self.read |= {s.name for s in expr.atoms(MatrixSymbol) if s.name in self.params}
        return self.factors[expr]

    def comment(self, target: MatrixExpr, value: MatrixExpr) -> ir.Comment:
        return ir.Comment(equation(text(target, self.params), text(value, self.params)))

    def products(self, span: Span) -> str:
        """``W_o h_{t-1}, W_i h_{t-1}``: the products a span computes, as text."""
        return ", ".join(text(MatMul(m, span.operand), self.params) for m, _ in span.members)

    # Forward -------------------------------------------------------------

    def forward(self) -> tuple[ir.Statement, ...]:
        plan, cell = self.plan, self.cell
        F: list[ir.Statement] = []
        L: list[ir.Statement] = []
        hoisted = [s for s in plan.spans if s.hoisted]
        for span in plan.spans:
            F.append(
                ir.Assign(
                    span.weights,
                    ir.StackColumns(
                        tuple(m.name for m, _ in span.members), tuple(plan.scales[k] for _, k in span.members)
                    ),
                )
            )
        folded: set[tuple[int, MatrixSymbol]] = set()
        # The pre-activations that read no state have their biases added a chunk at a
        # time, before their functions, on data in cache (:meth:`before_loop`), not in
        # one more pass over their (T, B, k·n) array out of cache.
        chunked = {pre.index for pre in plan.pres if pre.equation.name in plan.unlooped.before}
        if plan.width:
            for act, (first, last) in zip(self.arrays["act"], plan.groups, strict=True):
                inside = [s for s in hoisted if first <= s.start < last]
                whole = len(inside) == 1 and (inside[0].start, inside[0].stop) == (first, last)
                if not whole:
                    F.append(ir.Assign(act, ir.Zeros(ir.shape(ir.T, ir.B, ir.Width(last - first)))))
                for span in inside:
                    F.append(ir.Comment(self.products(span) + ": every step at once"))
                    product = ir.Steps(
                        ir.MatMul(ir.Rows(span.operand.name), span.weights), ir.Width(span.stop - span.start)
                    )
                    if whole:
                        F.append(ir.Assign(act, product))
                    else:
                        F.append(
                            ir.Assign(
                                self.block("act", (ir.ALL, ir.ALL), span.start, span.stop), product, "+="
                            )
                        )
            if hoisted and not chunked and all(len(pre.biases) == 1 for pre in plan.pres):
                for act, (first, last) in zip(self.arrays["act"], plan.groups, strict=True):
                    F.append(
                        ir.Assign(
                            act,
                            ir.Concat(
                                tuple(pre.biases[0].name for pre in plan.pres[first:last]),
                                plan.scales[first:last],
                            ),
                            "+=",
                        )
                    )
            else:
                for pre in plan.pres:
                    for b in pre.biases if pre.index not in chunked else ():
                        F.append(
                            ir.Assign(
                                self.columns("act", (ir.ALL, ir.ALL), pre.index),
                                self.scaled(b.name, pre),
                                "+=",
                            )
                        )
            folded = {(pre.index, b) for pre in plan.pres for b in pre.biases}
        for span in plan.spans:
            if not span.hoisted:
                F.append(ir.Assign(span.product, ir.Empty(ir.shape(ir.B, ir.Width(span.stop - span.start)))))
        rows = {
            **{eq.name: eq.symbol.shape[0] for eq in cell.equations},
            **{s.name: s.shape[0] for s in self.kept.values()},
        }
        for name, array in plan.sequences:
            if name in cell.states:
                # T + 1 rows, the initial state first: the states before each step are a view.
                steps = self.steps[name] = self.namer(name + "_steps")
                F.append(ir.Comment(f"{name} before the first step, then after each: {array} is a view"))
                F.append(ir.Assign(steps, ir.Empty(ir.shape(ir.Plus(ir.T, 1), ir.B, ir.N))))
                F.append(ir.Assign(ir.at(steps, 0), ir.at("state", ir.Key(name))))
                F.append(ir.Assign(array, ir.at(steps, ir.Slice(1))))
                continue
            if name in self.scratch:
                continue  # made once the chunk's length is known
            F.append(ir.Assign(array, ir.Empty(ir.SEQUENCE if rows[name] == N_HIDDEN else ir.shape_of("x"))))
        for s in cell.states:
            F.append(ir.Assign(naming.prev(s), ir.at("state", ir.Key(s))))

        names: dict[str, ir.Node] = {x: ir.at(x, STEP) for x in cell.inputs}
        known: dict[MatrixExpr, MatrixSymbol] = {}
        before = self.before_loop(known, F)
        free = plan.unlooped
        outside = {*free.before, *free.after}
        if plan.width:
            for z, act in zip(self.arrays["z"], self.arrays["act"], strict=True):
                L.append(ir.Assign(z, ir.at(act, STEP)))
        for name, array in plan.sequences:
            L.append(ir.Assign(name, ir.at(array, ir.Minus(STEP, FIRST) if name in self.scratch else STEP)))
        for name in free.before:
            if name in self.pres:
                L.append(ir.Assign(name, self.columns("act", (STEP, ir.ALL), self.pres[name].index)))
        bindings = len(L)
        parts = {symbol: expr for expr, symbol in plan.kept if symbol in free.parts}
        runs = {run[0]: run for run in plan.forward_runs}
        done_spans: set[str] = set()
        equations = list(cell.equations)
        k = 0
        while k < len(equations):
            eq = equations[k]
            if eq.name in outside:
                k += 1
                continue
            if eq.name not in self.pres:
                L.extend(self.keep_inside(eq.rhs, names, known))
                L.append(self.comment(eq.symbol, eq.rhs))
                L.extend(self.store(eq.name, with_parts(eq.rhs, parts), names, known))
                if not isinstance(eq.rhs, MatrixSymbol):
                    known[eq.rhs] = eq.symbol
                k += 1
                continue
            run = [plan.pres[i] for i in runs[self.pres[eq.name].index]]
            for pre in run:
                L.extend(self.keep_inside(cell.equation(pre.equation.name).rhs, names, known))
            for pre in run:
                for span in plan.spans:
                    if (
                        span.hoisted
                        or span.name in done_spans
                        or pre.index not in [i for _, i in span.members]
                    ):
                        continue
                    L.append(ir.Comment(self.products(span) + ": one product"))
                    L.append(ir.MatMulInto(self.show(span.operand, names, known), span.weights, span.product))
                    L.append(ir.Assign(self.block("z", (ir.ALL,), span.start, span.stop), span.product, "+="))
                    done_spans.add(span.name)
                for b in pre.biases:
                    if (pre.index, b) not in folded:
                        L.append(
                            ir.Assign(self.columns("z", (ir.ALL,), pre.index), self.scaled(b.name, pre), "+=")
                        )
                for term in pre.rest:
                    L.append(
                        ir.Assign(
                            self.columns("z", (ir.ALL,), pre.index),
                            self.scaled(self.show(term, names, known), pre),
                            "+=",
                        )
                    )
            for pre in run:
                L.append(self.comment(pre.equation, cell.equation(pre.equation.name).rhs))
            L.extend(self.activate([pre.index for pre in run]))
            for pre in run:
                L.append(ir.Assign(pre.equation.name, self.columns("z", (ir.ALL,), pre.index)))
                known[cell.equation(pre.equation.name).rhs] = pre.equation
            k += len(run)
        for s in cell.states:
            L.append(ir.Assign(naming.prev(s), s))
        # A name the step does not read is not bound in it, though the chunk's work may read it.
        read = set().union(*(ir.reads(statement) for statement in L[bindings:]))
        L[:bindings] = [b for b in L[:bindings] if ir.binds(b) in read]
        after = self.after_loop_forward(known)
        if self.constants:
            # A Python number would be converted again at every call in the loop.
            F.append(ir.Comment("The numbers the steps use, made once in the dtype"))
            F.extend(ir.Assign(name, ir.Constant(value)) for value, name in self.constants.items())

        self.values_of = {eq.name: self.values(eq.name) for eq in cell.equations}
        self.outputs = {s: self.values_of[s] for s in cell.states}
        self.cache = (
            *(self.arrays["act"] if plan.width else []),
            *(a for name, a in plan.sequences if name not in self.scratch),
            *self.steps.values(),
        )
        if not before:
            return (*F, ir.Loop(STEP, ir.T, tuple(L), overflows=True), *after)
        # What reads no state is computed for a chunk of steps, then the chunk's steps run:
        # its arrays are still in cache when the steps read them.  Its functions may
        # overflow as the steps' may: one guard for both.
        step_loop = ir.Loop(STEP, ir.Least(ir.Plus(FIRST, CHUNK), ir.T), tuple(L), start=FIRST)
        scratch = [
            ir.Assign(array, ir.Empty(ir.shape(CHUNK, ir.B, ir.N)))
            for name, array in plan.sequences
            if name in self.scratch
        ]
        return (
            *F,
            self.chunk_size(STATE_FREE_STEPS),
            *scratch,
            ir.Quiet((ir.Loop(FIRST, ir.T, (*before, step_loop), step=CHUNK),)),
            *after,
        )

    def chunk_size(self, least: int = 1) -> ir.Assign:
        """``chunk``: the steps whose arrays of B × n entries together hold about ``chunk_bytes``,
        and at least ``least`` steps."""
        entry = ir.Times(ir.Times(ir.B, ir.N), ir.Itemsize())
        return ir.Assign(CHUNK, ir.Greatest(least, ir.Quotient(self.chunk_bytes, entry)))

    def scaled(self, value: ir.Node, pre: Pre) -> ir.Node:
        """``value`` times the scale ``pre``'s block is computed in."""
        factor = self.plan.scales[pre.index]
        return value if factor == 1 else ir.Scaled(value, factor)

    def activate(self, run: list[int], chunk: bool = False) -> list[ir.Statement]:
        """The run's functions applied to its block of ``z``, in place; with ``chunk``,
        to its block of ``act`` at a chunk of steps."""

        def blocks(start: int, stop: int) -> ir.Block:
            if chunk:
                return self.block("act", (_CHUNK_STEPS, ir.ALL), start, stop)
            return self.block("z", (ir.ALL,), start, stop)

        view = blocks(run[0], run[-1] + 1)
        pres = self.plan.pres
        if tuple(run) not in self.plan.exp_runs:
            return [ir.ApplyInto(pres[run[0]].function, view, view)]
        # a + b / (1 + exp(c z)), with c z already in the block: exp, + 1 and 1 / over
        # the whole run, then a + b · where (a, b) is not (0, 1), over adjacent columns
        # of one form.  Where exp overflows to inf the result is the exact limit, a.
        out: list[ir.Statement] = [
            ir.Comment(
                ", ".join(dict.fromkeys(_exp_text(pres[k].function) for k in run))
                + ": the block holds c z, c inside the weights"
            ),
            ir.OpInto("exp", (view,), view),
            ir.Assign(view, self.constant(1), "+="),
            ir.OpInto("reciprocal", (view,), view),
        ]
        k = 0
        while k < len(run):
            form = FUNCTIONS[pres[run[k]].function].through_exp
            assert form is not None
            stop = k + 1
            while stop < len(run) and FUNCTIONS[pres[run[stop]].function].through_exp == form:
                stop += 1
            a, b, _ = form
            columns = blocks(run[k], run[stop - 1] + 1)
            if b != 1:
                out.append(ir.Assign(columns, self.constant(b), "*="))
            if a != 0:
                out.append(ir.Assign(columns, self.constant(a), "+="))
            k = stop
        return out

    def constant(self, value: int) -> str:
        """The name of ``value`` as a 0-d array of the dtype, made once before the loop."""
        if value not in self.constants:
            words = {1: "one", 2: "two", -1: "minus_one", -2: "minus_two"}
            self.constants[value] = self.namer(
                words.get(value, f"{'minus_' if value < 0 else ''}c{abs(value)}")
            )
        return self.constants[value]

    def keep_inside(
        self,
        expr: MatrixExpr,
        names: Names,
        known: dict[MatrixExpr, MatrixSymbol],
        whole: bool = False,
        chunk: bool = False,
    ) -> list[ir.Statement]:
        """Statements that compute the kept sub-expressions of ``expr`` not yet computed
        this step, innermost first, into their rows of their (T, B, n) arrays (with
        ``whole``, into all of them, for every step at once; with ``chunk``, for the
        chunk's steps); each is added to ``known``."""
        out: list[ir.Statement] = []
        for node in reversed(list(A.walk(expr))):
            symbol = self.kept.get(node)
            if symbol is None or node in known:
                continue
            target: ir.Node = self.sequence_rows(symbol.name, chunk) if whole or chunk else symbol.name
            if isinstance(node, A.Apply):
                out.append(ir.ApplyInto(node.function, self.show(node.arg, names, known), target))
            else:
                out.append(self.comment(symbol, node))
                out.extend(self.store(target, node, names, known))
            known[node] = symbol
        return out

    # Every step at once, outside the loops --------------------------------

    def as_rows(self, array: ir.Node, chunk: bool) -> ir.Rows:
        """A (T, B, k) array as (T*B, k) rows; with ``chunk``, its chunk of steps only."""
        return ir.Rows(ir.at(array, _CHUNK_STEPS), STEPS) if chunk else ir.Rows(array)

    def sequence_rows(self, name: str, chunk: bool) -> ir.Rows:
        """The array of ``name``'s values as rows: every step (with ``chunk``, the
        chunk's steps); a part held for a chunk only is at the chunk's steps from its start."""
        if name in self.scratch:
            return ir.Rows(ir.at(self.sequences[name], ir.Slice(None, STEPS)), STEPS)
        return self.as_rows(self.sequences[name], chunk)

    def rows_block(self, array: str, start: int, stop: int, chunk: bool = False) -> ir.Block:
        """Blocks ``start:stop`` of the array of blocks ``array`` at every step (with
        ``chunk``, at the chunk's steps), as rows."""
        block = self.block(array, (ir.ALL,), start, stop)
        if chunk and array == "dz" and self.dz_chunk:
            rows = ir.Rows(ir.at(block.array, ir.Slice(None, STEPS)), STEPS)
            return ir.Block(rows, block.lead, block.start, block.stop, block.width)
        return ir.Block(self.as_rows(block.array, chunk), block.lead, block.start, block.stop, block.width)

    def whole(self, backward: bool, chunk: bool = False) -> dict[str, ir.Node]:
        """The nodes that hold every forward value at every step (with ``chunk``, at the
        chunk's steps), as rows: what the statements outside the step loops read."""
        cell = self.cell
        out: dict[str, ir.Node] = {x: self.as_rows(x, chunk) for x in cell.inputs}
        for name in self.sequences:
            if not (backward and name in self.scratch):
                out[name] = self.sequence_rows(name, chunk)
        for pre in self.plan.pres:
            out[pre.equation.name] = self.rows_block("act", pre.index, pre.index + 1, chunk)
        for s in cell.states:
            if backward:
                before: ir.Node = naming.prev(s) + "_seq"
            elif s in self.steps:
                before = ir.at(self.steps[s], ir.Slice(None, -1))
            else:
                before = ir.PreviousAll(ir.at("state", ir.Key(s)), self.values(s))
            out[naming.prev(s)] = self.as_rows(before, chunk)
        return out

    def before_loop(
        self, known: dict[MatrixExpr, MatrixSymbol], setup: list[ir.Statement]
    ) -> list[ir.Statement]:
        """The equations that read no state, then the parts of the others that read
        none, computed a chunk of steps at a time before the chunk's steps; what they
        compute is added to ``known``, and what they read made once is added to ``setup``."""
        plan, cell = self.plan, self.cell
        free = plan.unlooped
        if not free.before and not free.parts:
            return []
        views = self.whole(backward=False, chunk=True)
        names = {x: views[x] for x in cell.inputs}
        out: list[ir.Statement] = []
        runs = {run[0]: run for run in plan.forward_runs}
        # What two of these equations share (f + i in f ⊘ (f + i) and i ⊘ (f + i)) is
        # computed once, before the first that reads it, for this chunk only.
        plain = [cell.equation(name).rhs for name in free.before if name not in self.pres]
        readable = {cell.equation(name).symbol for name in free.before}
        pending = list(shared(plain, readable | set(cell.parameter_symbols) | set(cell.input_symbols)))
        made: dict[MatrixExpr, MatrixSymbol] = {}
        for eq in cell.equations:
            if eq.name not in free.before:
                continue
            pre = self.pres.get(eq.name)
            if pre is None:
                out.extend(self.keep_inside(eq.rhs, names, known, chunk=True))
                for expr in [e for e in pending if eq.rhs.xreplace(made).has(e.xreplace(made))]:
                    symbol = MatrixSymbol(self.namer("shared"), *expr.shape)
                    out.append(self.comment(symbol, expr))
                    out.append(ir.Assign(symbol.name, self.show(expr.xreplace(made), names, known)))
                    made[expr] = symbol
                    pending.remove(expr)
                out.append(self.comment(eq.symbol, eq.rhs))
                rows = self.as_rows(self.sequences[eq.name], True)
                out.extend(self.store(rows, eq.rhs, names, {**known, **made}))
                if not isinstance(eq.rhs, MatrixSymbol):
                    known[eq.rhs] = eq.symbol
                continue
            if pre.index not in runs:
                continue  # done with the first of its run
            run = [plan.pres[i] for i in runs[pre.index]]
            out.extend(self.chunk_biases(run, setup))
            for member in run:
                for term in member.rest:
                    out.extend(self.keep_inside(term, names, known, chunk=True))
                    out.append(
                        ir.Assign(
                            ir.Everything(self.rows_block("act", member.index, member.index + 1, True)),
                            self.scaled(self.show(term, names, known), member),
                            "+=",
                        )
                    )
            for member in run:
                out.append(self.comment(member.equation, cell.equation(member.equation.name).rhs))
            out.extend(self.activate([member.index for member in run], chunk=True))
            for member in run:
                known[cell.equation(member.equation.name).rhs] = member.equation
        held = {symbol: expr for expr, symbol in plan.kept}
        for symbol in free.parts:
            expr = held[symbol]
            out.extend(self.keep_inside(expr, names, known, chunk=True))  # the part is kept itself
        return [
            ir.Comment("What reads no state, for a chunk of steps at once"),
            *self.chunk_views(views, names, out),
            *out,
        ]

    def chunk_biases(self, run: list[Pre], setup: list[ir.Statement]) -> list[ir.Statement]:
        """The biases of ``run``'s pre-activations added to their block at a chunk of
        steps: one addition of the biases end to end, made once in ``setup``, where each
        has one bias."""
        if all(len(pre.biases) == 1 for pre in run):
            biases = self.namer("biases")
            scales = tuple(self.plan.scales[pre.index] for pre in run)
            setup.append(ir.Assign(biases, ir.Concat(tuple(pre.biases[0].name for pre in run), scales)))
            view = self.block("act", (_CHUNK_STEPS, ir.ALL), run[0].index, run[-1].index + 1)
            return [ir.Assign(view, biases, "+=")]
        return [
            ir.Assign(
                self.block("act", (_CHUNK_STEPS, ir.ALL), pre.index, pre.index + 1),
                self.scaled(b.name, pre),
                "+=",
            )
            for pre in run
            for b in pre.biases
        ]

    def chunk_views(
        self, views: Mapping[str, ir.Node], nodes: Mapping[str, ir.Node], statements: list[ir.Statement]
    ) -> list[ir.Statement]:
        """The chunk's length, and each name ``statements`` read bound to its view at the
        chunk's steps, so that they read like the equations; ``nodes`` are read where they
        are (the input, which keeps its name)."""
        read = set().union(*(ir.reads(s) for s in statements))
        return [
            ir.Assign(STEPS, ir.Minus(ir.Least(ir.Plus(FIRST, CHUNK), ir.T), FIRST)),
            *(ir.Assign(name, view) for name, view in views.items() if name in read and name not in nodes),
        ]

    def after_loop_forward(self, known: dict[MatrixExpr, MatrixSymbol]) -> list[ir.Statement]:
        """The equations that no step reads back, for every step at once after the loop."""
        free = self.plan.unlooped
        if not free.after:
            return []
        names = self.whole(backward=False)
        out: list[ir.Statement] = [ir.Comment("What no step reads back, for every step at once")]
        for eq in self.cell.equations:
            if eq.name in free.after:
                out.extend(self.keep_inside(eq.rhs, names, known, whole=True))
                out.append(self.comment(eq.symbol, eq.rhs))
                out.extend(self.store(self.as_rows(self.sequences[eq.name], False), eq.rhs, names, known))
        return out

    # Backward ------------------------------------------------------------

    def backward(self) -> tuple[ir.Statement, ...]:
        plan, cell, d = self.plan, self.cell, self.d
        S: list[ir.Statement] = []
        L: list[ir.Statement] = []
        for s in cell.states:
            S.append(ir.Assign(naming.own("d_out_" + s), ir.at(naming.own("d_out"), ir.Key(s))))
        # The stacked weights as rows, for the products through them; assignments that
        # nothing reads are left out when the module is printed.
        for span in plan.spans:
            S.append(ir.Assign(span.rows, ir.StackRows(tuple(m.name for m, _ in span.members))))
            self.read |= {m.name for m, _ in span.members}
        # The parts held for a chunk only are computed again, ahead of the steps that read them.
        known: dict[MatrixExpr, MatrixSymbol] = {
            **{e: s for e, s in self.kept.items() if s.name not in self.scratch},
            **{eq.rhs: eq.symbol for eq in cell.equations if not isinstance(eq.rhs, MatrixSymbol)},
        }
        for s in cell.states:
            prev = naming.prev(s)
            before = (
                ir.at(self.steps[s], ir.Slice(None, -1))
                if s in self.steps
                else ir.PreviousAll(ir.at("state", ir.Key(s)), self.outputs[s])
            )
            S.append(ir.Assign(prev + "_seq", before))
            S.append(ir.Assign(naming.adjoint(prev), ir.Zeros(ir.BATCH)))
        # Arrays made once the chunk's length is known (held for a chunk of steps).
        self.saved: list[ir.Statement] = []
        if plan.width:
            for dz, (first, last) in zip(self.arrays["dz"], plan.groups, strict=True):
                length = CHUNK if self.dz_chunk else ir.T
                dz_array = ir.Assign(dz, ir.Empty(ir.shape(length, ir.B, ir.Width(last - first))))
                (self.saved if self.dz_chunk else S).append(dz_array)
        names: dict[str, ir.Node] = {x: ir.at(x, STEP) for x in cell.inputs}
        # Adjoints that live in their columns of δz: δz_v, and δv in a backward run.
        in_dz: dict[str, ir.Block] = {}
        for pre in plan.pres:
            in_dz[pre.adjoint.name] = self.columns("dz_t", (ir.ALL,), pre.index)
        remainder = dict(plan.remainder)
        after = dict(plan.after)
        inputs = {naming.adjoint(x) for x in cell.inputs}
        parameter_of = {naming.adjoint(p.name): p.name for p in cell.parameters}
        free = plan.unlooped
        for g in d.gradients:
            if remainder[g.target.name] is not None:
                base = parameter_of[g.target.name]
                self.read.add(base)
                S.append(ir.Assign(g.target.name, ir.Zeros(ir.shape_of(base))))
        for x in inputs:
            if remainder[x] is not None:
                S.append(ir.Assign(x, ir.Empty(ir.shape_of("x"))))
        saved = dict(free.saved)
        # the saved adjoints, for a chunk of steps: made once the chunk's length is known
        length = CHUNK if self.chunk_arrays else ir.T
        made = [ir.Assign(array, ir.Empty(ir.shape(length, ir.B, ir.N))) for array in saved.values()]
        if self.chunk_arrays:
            self.saved += made
        else:
            S += made
        at_step = ir.Minus(STEP, FIRST) if self.chunk_arrays else STEP

        self.forward_values = {
            *(eq.name for eq in cell.equations),
            *(symbol.name for _, symbol in plan.kept if symbol.name not in self.scratch),
            *(naming.prev(s) for s in cell.states),
            *cell.inputs,
        }
        # An incoming adjoint that is kept (itself, or an adjoint equal to it: δs_t = δs_t^in)
        # is written straight into its array.
        written: set[str] = set()
        for c in d.carries:
            kept = [c.incoming.name] + [a.target.name for a in d.backward if a.value == c.incoming]
            into = next((name for name in kept if name in saved), None)
            if into is not None:
                written.add(into)
            L.append(
                ir.Assign(
                    c.incoming.name,
                    ir.Incoming(
                        naming.own("d_out_" + c.state.name),
                        c.carried.name,
                        STEP,
                        None if into is None else ir.at(saved[into], at_step),
                    ),
                )
            )
        run_of = {k: run for run in plan.backward_runs for k in run}
        pending: dict[tuple[int, ...], list[Assignment]] = {}  # run -> the δz of the run written so far
        for pre in plan.pres:
            if pre.index in run_of:
                in_dz[naming.adjoint(pre.equation.name)] = self.columns("dz_t", (ir.ALL,), pre.index)
        names.update(in_dz)
        for a in d.backward:
            target = a.target.name
            if target in free.backward:
                continue  # after the loop, for every step at once
            if target in saved:
                # kept for every step, for the adjoints computed after the loop
                L.extend(self.backward_step(a, names, known, remainder, in_dz, run_of, pending))
                if target not in written:
                    L.append(ir.Assign(ir.at(saved[target], at_step), in_dz.get(target, target)))
                continue
            L.extend(self.backward_step(a, names, known, remainder, in_dz, run_of, pending))
        assert not pending, "every backward run is complete by the end of the step"
        bind = self.bind()
        ahead = [
            ir.Assign(symbol.name, ir.Math(value, tuple(self.chunk_names(value).items())))
            for value, symbol in self.factors.items()
        ] + self.slopes
        self.forward_values = None
        unlooped = self.after_backward_steps(known, remainder)
        finish = self.after_loop(after, remainder)
        return self.backward_loops(S, bind, L, ahead, unlooped, finish)

    def backward_step(
        self,
        a: Assignment,
        names: Names,
        known: Known,
        remainder: Mapping[str, MatrixExpr | None],
        in_dz: Mapping[str, ir.Block],
        run_of: Mapping[int, tuple[int, ...]],
        pending: dict[tuple[int, ...], list[Assignment]],
    ) -> list[ir.Statement]:
        """The statements of one adjoint in the backward loop's step."""
        plan, cell, d = self.plan, self.cell, self.d
        L: list[ir.Statement] = []
        gradients = {g.target.name for g in d.gradients}
        vectors = {naming.adjoint(p.name) for p in cell.parameters if p.cols == "1"}
        inputs = {naming.adjoint(x) for x in cell.inputs}
        carried = {c.carried.name for c in d.carries}
        target = a.target.name
        if target in gradients or target in inputs:
            value = remainder[target]
            if value is None:
                return L
            L.append(self.comment(a.target, value))
            if target in gradients:
                shown = self.show(value, names, known)
                L.append(ir.Assign(target, ir.BatchSum(shown) if target in vectors else shown, "+="))
            else:
                L.append(ir.Assign(ir.at(target, STEP), self.show(value, names, known)))
            return L
        owner = next((p for p in plan.pres if p.adjoint == a.target), None)  # a is δz_v
        if owner is not None and owner.index in run_of:
            # δz_v = δv ⊙ f'(v): δv is already in δz's columns; f' waits for the whole run.
            run = run_of[owner.index]
            pending.setdefault(run, []).append(a)
            if len(pending[run]) == len(run):
                L.extend(self.slope(run, pending.pop(run), names))
            return L
        spans, rest = span_products(a.value, plan.spans, plan.pres)
        pieces = [ir.MatMul(self.block("dz_t", (ir.ALL,), s.start, s.stop), s.rows) for s in spans]
        L.append(self.comment(a.target, a.value))
        if target in in_dz:
            view = in_dz[target]
            if spans:
                L.append(
                    ir.Assign(
                        ir.Everything(view),
                        ir.add(*pieces, *([self.show(rest, names, known)] if rest else [])),
                    )
                )
            else:
                L.extend(self.store(view, rest if rest is not None else a.value, names, known))
        elif target in carried:
            if spans:
                # A new array for the carry at each step: where no gradient is given
                # for the state's output, this step's incoming adjoint is the last
                # step's carry itself, which the step may still read.
                L.append(ir.Assign(target, pieces[0]))
                more = pieces[1:] + ([self.show(rest, names, known)] if rest is not None else [])
                if more:
                    L.append(ir.Assign(target, ir.add(*more), "+="))
            elif isinstance(a.value, ZeroMatrix):
                L.append(ir.Assign(target, ir.Zeros(ir.BATCH)))
            else:
                L.append(ir.Assign(target, self.show(a.value, names, known)))
        else:
            rest_code = [self.show(rest, names, known)] if rest is not None else []
            L.append(ir.Assign(target, ir.add(*pieces, *rest_code) if pieces or rest_code else 0))
        return L

    def common(
        self, exprs: list[MatrixExpr], names: Names, known: Known, out: list[ir.Statement]
    ) -> dict[MatrixExpr, MatrixSymbol]:
        """The sub-expressions that ``exprs`` share (:func:`~.plan.shared`), each computed
        once into a value of its own by a statement added to ``out``: sub-expression -> its symbol."""
        readable = {
            *(MatrixSymbol(name, N_HIDDEN, 1) for name in self.values_of),
            *(symbol for _, symbol in self.plan.kept if symbol.name not in self.scratch),
            *self.cell.prev_symbols,
            *self.cell.parameter_symbols,
        }
        made: dict[MatrixExpr, MatrixSymbol] = {}
        for expr in shared(exprs, readable):
            symbol = MatrixSymbol(self.namer("shared"), *expr.shape)
            out.append(self.comment(symbol, expr))
            out.append(ir.Assign(symbol.name, self.show(expr.xreplace(made), names, known)))
            made[expr] = symbol
        return made

    def after_backward_steps(
        self, known: Known, remainder: Mapping[str, MatrixExpr | None]
    ) -> list[ir.Statement]:
        """The adjoints that no carried adjoint reads, for a chunk of steps at once after
        the chunk's backward steps, as rows, from the forward values and the adjoints
        the steps kept."""
        plan, cell, d = self.plan, self.cell, self.d
        free = plan.unlooped
        if not free.backward:
            return []
        views = self.whole(backward=True, chunk=True)
        views |= {
            name: ir.Rows(ir.at(array, ir.Slice(None, STEPS)), STEPS)
            if self.chunk_arrays
            else self.as_rows(array, True)
            for name, array in free.saved
        }
        adjoint_of = {pre.adjoint.name: pre for pre in plan.pres}
        views |= {
            name: self.rows_block("dz", pre.index, pre.index + 1, True) for name, pre in adjoint_of.items()
        }
        names = {x: views[x] for x in cell.inputs}
        gradients = {g.target.name for g in d.gradients}
        vectors = {naming.adjoint(p.name) for p in cell.parameters if p.cols == "1"}
        inputs = {naming.adjoint(x) for x in cell.inputs}
        out: list[ir.Statement] = []
        # What several of these adjoints read of the forward values alone (f + i, in the
        # derivatives of f ⊘ (f + i) and i ⊘ (f + i)): computed once, first.
        computed = [
            (remainder[a.target.name] if a.target.name in gradients | inputs else a.value)
            for a in d.backward
            if a.target.name in free.backward
        ]
        values = [v.xreplace(known) for v in computed if v is not None]
        known = {**known, **self.common(values, names, known, out)}
        for a in d.backward:
            target = a.target.name
            if target not in free.backward:
                continue
            if target in gradients or target in inputs:
                value = remainder[target]
                if value is None:
                    continue
                out.append(self.comment(a.target, value))
                shown = self.show(value, names, known)
                if target in inputs:
                    out.append(ir.Assign(ir.Everything(self.as_rows(target, True)), shown))
                else:
                    out.append(ir.Assign(target, ir.BatchSum(shown) if target in vectors else shown, "+="))
                continue
            out.append(self.comment(a.target, a.value))
            if target in adjoint_of:
                out.extend(self.store(views[target], a.value, names, known))
            else:
                out.append(ir.Assign(target, self.show(a.value, names, known)))
        if not out:
            return []
        return [
            ir.Comment("What no carried adjoint reads, for the chunk's steps at once"),
            *self.chunk_views(views, names, out),
            *out,
        ]

    def bind(self) -> list[ir.Statement]:
        """The names the backward loop's step reads, bound to their values at the step."""
        plan, cell = self.plan, self.cell
        bind: list[ir.Statement] = [
            ir.Assign(dz_t, ir.at(dz, ir.Minus(STEP, FIRST) if self.dz_chunk else STEP))
            for dz_t, dz in zip(self.arrays["dz_t"], self.arrays["dz"], strict=True)
            if plan.width
        ]
        for eq in cell.equations:
            if eq.name in self.read:
                where = (
                    self.columns("act", (STEP, ir.ALL), self.pres[eq.name].index)
                    if eq.name in self.pres
                    else ir.at(self.sequences[eq.name], STEP)
                )
                bind.append(ir.Assign(eq.name, where))
        for _, symbol in plan.kept:
            if symbol.name in self.read:
                bind.append(ir.Assign(symbol.name, ir.at(self.sequences[symbol.name], STEP)))
        for s in cell.states:
            if naming.prev(s) in self.read:
                bind.append(ir.Assign(naming.prev(s), ir.at(naming.prev(s) + "_seq", STEP)))
        return bind

    def backward_loops(
        self,
        S: list[ir.Statement],
        bind: list[ir.Statement],
        L: list[ir.Statement],
        ahead: list[ir.Statement],
        unlooped: list[ir.Statement],
        finish: list[ir.Statement],
    ) -> tuple[ir.Statement, ...]:
        """The backward function: set-up, the loop (in chunks where factors are computed
        ahead or adjoints after the chunk's steps), finish."""
        if not ahead and not unlooped and not self.dz_chunk:
            return (*S, ir.Loop(STEP, ir.T, tuple(bind + L), reverse=True), *finish)
        sums = self.chunk_sums
        if sums and not unlooped:
            sums = [ir.Assign(STEPS, ir.Minus(ir.Least(ir.Plus(FIRST, CHUNK), ir.T), FIRST)), *sums]
        chunks = ir.Loop(
            FIRST,
            ir.T,
            (
                *ahead,
                ir.Loop(
                    STEP, ir.Least(ir.Plus(FIRST, CHUNK), ir.T), tuple(bind + L), start=FIRST, reverse=True
                ),
                *unlooped,
                *sums,
            ),
            step=CHUNK,
            reverse=True,
        )
        return (
            *S,
            ir.Comment("What the steps read that does not depend on the adjoints is computed ahead, for a"),
            ir.Comment("chunk of steps at once: fewer, larger NumPy calls, on data still in cache."),
            self.chunk_size(STATE_FREE_STEPS if unlooped or self.dz_chunk else 1),
            *self.saved,
            *self.sums_zero,
            chunks,
            *finish,
        )

    def chunk_names(self, expr: MatrixExpr) -> dict[str, ir.Node]:
        """The nodes that hold the forward values ``expr`` reads, at a chunk of steps."""
        chunk = _CHUNK_STEPS
        out: dict[str, ir.Node] = {}
        for symbol in expr.free_symbols:
            name = symbol.name
            if name in self.params:
                continue
            if name in self.pres:
                out[name] = self.columns("act", (chunk, ir.ALL), self.pres[name].index)
            elif name in self.sequences:
                out[name] = ir.at(self.sequences[name], chunk)
            else:  # a previous state or an input
                out[name] = ir.at(name + "_seq" if name not in self.cell.inputs else name, chunk)
        return out

    def slope(self, run: tuple[int, ...], assignments: list[Assignment], names: Names) -> list[ir.Statement]:
        """δz = δv ⊙ f'(v) over a run's columns, with v read from the block."""
        out: list[ir.Statement] = [self.comment(a.target, a.value) for a in assignments]
        first, last = run[0], run[-1] + 1
        v = self.plan.pres[first].equation
        block = MatrixSymbol("_block", *v.shape)
        slope = elementwise.derivative(self.plan.pres[first].function, block)
        # f'(v) reads forward values alone: computed ahead, for a chunk of steps at once.
        name = self.namer("factor_seq")
        chunk = self.block("act", (_CHUNK_STEPS, ir.ALL), first, last)
        self.slopes.append(ir.Assign(name, ir.Math(slope, (("_block", chunk),))))
        out.append(
            ir.Assign(self.block("dz_t", (ir.ALL,), first, last), ir.at(name, ir.Minus(STEP, FIRST)), "*=")
        )
        return out

    def rows(self, operand: MatrixExpr, chunk: bool = False) -> ir.Rows:
        """The operand of a stacked product at every step (with ``chunk``, at the
        chunk's steps), as (T*B, k) rows."""
        array = self.operand(operand)
        if not chunk:
            return ir.Rows(array)
        if isinstance(array, ir.Block):
            return ir.Rows(
                ir.Block(array.array, (_CHUNK_STEPS, ir.ALL), array.start, array.stop, array.width), STEPS
            )
        return ir.Rows(ir.at(array, _CHUNK_STEPS), STEPS)

    def operand(self, operand: MatrixExpr) -> ir.Node:
        """The (T, B, k) array of the operand of a stacked product."""
        if operand in self.cell.input_symbols:
            return operand.name
        if operand in self.cell.prev_symbols:
            return operand.name + "_seq"
        symbol = dict(self.plan.kept).get(operand, operand)
        if not isinstance(symbol, MatrixSymbol) or (
            symbol.name not in self.sequences and symbol.name not in self.pres
        ):
            # An operand that is also a whole equation's value (σ(W_1 s_prev) when an
            # equation q says just that) is read from that equation's kept values.
            symbol = next(eq.symbol for eq in self.cell.equations if eq.rhs == operand)
        return self.values(symbol.name)

    def after_loop(
        self, after: Mapping[str, tuple[Piece, ...]], remainder: Mapping[str, MatrixExpr | None]
    ) -> list[ir.Statement]:
        """The statements after the backward loop: the sums over the steps done by one
        product each; sets the gradients backward returns.  Where δz is held for a chunk
        only (``dz_chunk``), the sums are added to after each chunk's steps instead: those
        statements go to ``self.chunk_sums``, and the zeros they start from to ``self.sums_zero``."""
        plan, cell = self.plan, self.cell
        chunk = self.dz_chunk
        E: list[ir.Statement] = []
        finish: list[ir.Statement] = []
        zeros: list[ir.Statement] = []
        self.d_x: ir.Node = ""
        used = {piece.span for pieces in after.values() for piece in pieces if piece.span}
        if used or any(piece.span is None for pieces in after.values() for piece in pieces):
            for rows, dz in zip(self.arrays["dz_rows"], self.arrays["dz"], strict=True):
                E.append(
                    ir.Assign(
                        rows, ir.Rows(ir.at(dz, ir.Slice(None, STEPS)), STEPS) if chunk else ir.Rows(dz)
                    )
                )
        spans = {s.name: s for s in plan.spans}
        for span in plan.spans:
            if span.name not in used:
                continue
            E.append(
                ir.Comment(
                    ", ".join(derivative("L", m.name) for m, _ in span.members)
                    + (" += the chunk's Σ_t (one product)" if chunk else " = Σ_t (one product)")
                )
            )
            product = ir.MatMul(
                ir.Transpose(self.block("dz_rows", (ir.ALL,), span.start, span.stop)),
                self.rows(span.operand, chunk),
            )
            if chunk:
                zeros.append(ir.Assign(span.gradient, ir.Zeros(ir.shape_of(span.rows))))
                E.append(ir.Assign(span.gradient, product, "+="))
            else:
                E.append(ir.Assign(span.gradient, product))
        if any(piece.span is None for pieces in after.values() for piece in pieces):
            for sums, rows, (first, last) in zip(
                self.arrays["d_biases"], self.arrays["dz_rows"], plan.groups, strict=True
            ):
                if chunk:
                    zeros.append(ir.Assign(sums, ir.Zeros(ir.shape(ir.Width(last - first)))))
                    E.append(ir.Assign(sums, ir.BatchSum(rows), "+="))
                else:
                    E.append(ir.Assign(sums, ir.BatchSum(rows)))
        for x in cell.inputs:
            target = naming.adjoint(x)
            parts: list[ir.Node] = []
            # The input's pieces are all products of spans (a bias's piece is no term of it).
            taken = [(spans[p.span], p.member) for p in after.get(target, ()) if p.span is not None]
            for span in dict.fromkeys(span for span, _ in taken):
                members = [j for s, j in taken if s is span]
                if len(members) == len(span.members):  # the whole span: one product with the stacked weights
                    parts.append(
                        ir.MatMul(self.block("dz_rows", (ir.ALL,), span.start, span.stop), span.rows)
                    )
                    continue
                for j in members:  # Uᵀ δz_k for the members taken alone
                    matrix, k = span.members[j]
                    self.read.add(matrix.name)
                    parts.append(ir.MatMul(self.columns("dz_rows", (ir.ALL,), k), matrix.name))
            how = "+=" if remainder[target] is not None else "="
            if parts and chunk:
                if remainder[target] is None:
                    zeros.append(ir.Assign(target, ir.Empty(ir.shape_of("x"))))
                E.append(ir.Assign(ir.Everything(self.as_rows(target, True)), ir.add(*parts), how))
            elif parts:
                E.append(ir.Assign(target, ir.Steps(ir.add(*parts), None), how))
            elif remainder[target] is None:
                finish.append(ir.Assign(target, ir.Zeros(ir.shape_of("x"))))
            self.d_x = target
        self.d_params: dict[str, ir.Node] = {}
        for p in cell.parameters:
            target = naming.adjoint(p.name)
            parts = [target] if remainder[target] is not None else []
            for piece in after.get(target, ()):
                if piece.span:
                    span = spans[piece.span]
                    parts.append(ir.RowRange(span.gradient, piece.member, piece.member + 1))
                else:
                    g = self.group(piece.block)
                    first = plan.groups[g][0]
                    parts.append(
                        ir.RowRange(self.arrays["d_biases"][g], piece.block - first, piece.block + 1 - first)
                    )
            if not parts:  # a parameter of a value nothing reads
                self.read.add(p.name)
                parts = [ir.Zeros(ir.shape_of(p.name))]
            self.d_params[p.name] = ir.add(*parts)
        self.d_state: dict[str, ir.Node] = {c.state.name: c.carried.name for c in self.d.carries}
        if chunk:
            self.chunk_sums, self.sums_zero = E, zeros
            return finish
        self.chunk_sums, self.sums_zero = [], []
        return E + finish


def _rows(node: ir.Node) -> bool:
    """Whether ``node`` is rows of an array (:class:`ir.Rows`), or a block of them."""
    return isinstance(node, ir.Rows) or (isinstance(node, ir.Block) and isinstance(node.array, ir.Rows))


def with_parts(expr: MatrixExpr, parts: Mapping[MatrixSymbol, MatrixExpr]) -> MatrixExpr:
    """``expr`` with each part of the plan replaced by its symbol, where the part is a
    sub-expression or some of the terms of a sum (U x + b in a ⊙ s_{t-1} + U x + b),
    or some of the factors of an elementwise product."""
    for symbol, part in parts.items():
        if expr == part:
            return symbol
    if isinstance(expr, (MatAdd, HadamardProduct)):
        args = list(expr.args)
        for symbol, part in parts.items():
            if type(part) is type(expr) and all(args.count(a) >= part.args.count(a) for a in part.args):
                for a in part.args:
                    args.remove(a)
                args.append(symbol)
        args = [with_parts(a, parts) for a in args]
        return A.add(*args) if isinstance(expr, MatAdd) else A.hadamard(*args)
    if not expr.args:
        return expr
    return expr.func(*(with_parts(a, parts) if isinstance(a, MatrixExpr) else a for a in expr.args))


def _exp_text(function: str) -> str:
    """``σ(z) = 1 / (1 + exp(-z))``: the function through exp, as text."""
    entry = FUNCTIONS[function]
    assert entry.through_exp is not None
    a, b, c = entry.through_exp
    exponent = "z" if c == 1 else "-z" if c == -1 else f"{c}z"
    ratio = f"{abs(b)} / (1 + exp({exponent}))"
    if a == 0:
        return f"{entry.text}(z) = {'-' if b < 0 else ''}{ratio}"
    return f"{entry.text}(z) = {a} {'-' if b < 0 else '+'} {ratio}"


__all__ = ["CHUNK_BYTES", "OWN", "lower"]
