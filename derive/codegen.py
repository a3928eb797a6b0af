"""From a derivation to the statements of a NumPy module, fast by construction.

Two lowerings share one template:

* :func:`lower` reads the structure of the equations and finds the speed in
  it: matrix products that share an operand become one product with the
  weights stacked side by side, products of the input (which do not depend
  on the recurrence) are done for every step at once before the loop, the
  outputs of elementwise functions land in one block per step, and the
  weight gradients, which are sums over t of outer products, are one product
  each after the backward loop.
* :func:`lower_literal` prints every equation as it stands, one product per
  gate per step: the baseline the benchmark compares against, and a second
  implementation for the tests.

Neither knows any cell by name.  Python syntax comes from
:mod:`derive.printing.numpy` and the module's frame from the Jinja template.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sympy import HadamardProduct, MatAdd, MatMul, MatrixExpr, MatrixSymbol, Transpose

from . import algebra as A
from . import naming
from .cell import N_HIDDEN
from .derivation import Assignment, Derivation
from .printing import numpy as P
from .printing.text import derivative, equation, text

# Names the generated functions use for themselves.
RESERVED = {"np", "n", "T", "B", "t", "x", "dtype", "params", "state", "cache", "act", "dz", "z"}


@dataclass
class Code:
    """The statements of ``forward`` and ``backward`` around and inside their loops."""

    forward_setup: list[str] = field(default_factory=list)
    forward_loop: list[str] = field(default_factory=list)
    forward_finish: list[str] = field(default_factory=list)
    backward_setup: list[str] = field(default_factory=list)
    backward_loop: list[str] = field(default_factory=list)
    backward_finish: list[str] = field(default_factory=list)
    cache: list[str] = field(default_factory=list)  # names saved by forward for backward
    backward_params: list[str] = field(default_factory=list)  # parameters backward reads by name
    outputs: dict[str, str] = field(default_factory=dict)  # state -> code of its (T, B, n) array
    values: dict[str, str] = field(default_factory=dict)  # equation -> code of its (T, B, n) values
    d_params: dict[str, str] = field(default_factory=dict)
    d_x: str = ""
    d_state: dict[str, str] = field(default_factory=dict)


def _comment(a: Assignment, parameters) -> str:
    return P.comment(equation(text(a.target, parameters), text(a.value, parameters)))


def _matrices(cell):
    return {p.name for p in cell.parameters if p.cols != "1"}


def _vectors(cell):
    return {p.name for p in cell.parameters if p.cols == "1"}


def _check_names(derivation: Derivation):
    cell = derivation.cell
    used = {p.name for p in cell.parameters} | {e.name for e in cell.equations}
    clash = sorted(used & RESERVED)
    if clash:
        raise ValueError(f"cell {cell.name!r}: the names {clash} are used by the generated code; rename them")
    for e in cell.equations:
        if e.rhs.shape[0] != N_HIDDEN:
            raise ValueError(f"cell {cell.name!r}, equation {e.name!r}: the generated code needs n_hidden rows")


def _saved_applications(derivation: Derivation):
    """Elementwise functions inside an equation (tanh(s) in h = o ⊙ tanh(s)):
    computed once in the forward pass and saved, since the backward pass reads them."""
    top = {eq.rhs for eq in derivation.cell.equations}
    found = {}
    for eq in derivation.cell.equations:
        for node in A.walk(eq.rhs):
            if isinstance(node, A.Apply) and node not in top and node not in found:
                inner = node.arg.name if isinstance(node.arg, MatrixSymbol) else str(len(found))
                found[node] = MatrixSymbol(f"{node.function}_{inner}", *node.shape)
    return found


# --------------------------------------------------------------------------
# The literal lowering: every equation as it stands.

def lower_literal(derivation: Derivation) -> Code:
    _check_names(derivation)
    cell = derivation.cell
    params = [p.name for p in cell.parameters]
    matrices = _matrices(cell)
    code = Code()
    names = {x: P.at(x, "t") for x in cell.inputs}
    show = lambda e: P.code(e, names, matrices)

    for eq in cell.equations:
        code.forward_setup.append(P.assign(eq.name, P.empty("(T, B, n)")))
    for s in cell.states:
        code.forward_setup.append(P.assign(naming.prev(s), P.at("state", P.key(s))))
    for eq in cell.equations:
        code.forward_loop.append(_comment(Assignment(eq.symbol, eq.rhs), params))
        code.forward_loop.append(P.assign(P.at(eq.name, "t"), show(eq.rhs)))
        names[eq.name] = P.at(eq.name, "t")
    for s in cell.states:
        code.forward_loop.append(P.assign(naming.prev(s), P.at(s, "t")))
        code.outputs[s] = s
    code.values = {eq.name: eq.name for eq in cell.equations}
    code.cache = [eq.name for eq in cell.equations]

    # Backward: the same names, read at step t.
    for s in cell.states:
        prev = naming.prev(s)
        code.backward_setup.append(P.assign(prev + "_seq", P.previous_all(P.at("state", P.key(s)), s)))
        names[prev] = P.at(prev + "_seq", "t")
        code.backward_setup.append(P.assign(naming.adjoint(prev), P.zeros("(B, n)")))
    for p in cell.parameters:
        code.backward_setup.append(P.assign(naming.adjoint(p.name), P.zeros(f"{p.name}.shape")))
    code.backward_setup.append(P.assign(naming.adjoint("x"), P.empty("x.shape")))
    for c in derivation.carries:
        code.backward_loop.append(P.assign(c.incoming.name, P.add(P.at(_out(c.state.name), "t"), c.carried.name)))
    gradients = {g.target.name for g in derivation.gradients}
    vectors = {naming.adjoint(v) for v in _vectors(cell)}
    for a in derivation.backward:
        code.backward_loop.append(_comment(a, params))
        value = show(a.value)
        if a.target.name in gradients:
            if a.target.name in vectors:
                value = P.batch_sum(value)
            code.backward_loop.append(P.assign(a.target.name, value, "+="))
        elif a.target.name in {naming.adjoint(x) for x in cell.inputs}:
            code.backward_loop.append(P.assign(P.at(a.target.name, "t"), value))
        else:
            code.backward_loop.append(P.assign(a.target.name, value))
    code.d_params = {p.name: naming.adjoint(p.name) for p in cell.parameters}
    code.backward_params = params
    code.d_x = naming.adjoint("x")
    code.d_state = {c.state.name: c.carried.name for c in derivation.carries}
    return code


def _out(state: str) -> str:
    return "d_out_" + state


# --------------------------------------------------------------------------
# The structured lowering.

@dataclass(eq=False)
class _Pre:
    """A pre-activation: the sum inside the outer function of an equation."""

    index: int  # its columns in the step's block: index*n:(index+1)*n
    equation: object
    function: str
    linear: list  # [(parameter matrix, operand)]
    biases: list  # parameter vectors
    rest: list  # any other terms


@dataclass
class _Span:
    """Products with one operand whose pre-activations sit side by side in the block:
    one matrix product with the weights stacked."""

    operand: MatrixExpr
    start: int
    members: list  # [(parameter matrix name, pre)] in block order
    hoisted: bool
    name: str = ""

    @property
    def stop(self):
        return self.start + len(self.members)


def _pre_activations(derivation: Derivation):
    cell = derivation.cell
    matrices, vectors = _matrices(cell), _vectors(cell)
    pres = []
    for eq in cell.equations:
        if not isinstance(eq.rhs, A.Apply):
            continue
        terms = eq.rhs.arg.args if isinstance(eq.rhs.arg, MatAdd) else (eq.rhs.arg,)
        linear, biases, rest = [], [], []
        for term in terms:
            if (isinstance(term, MatMul) and len(term.args) == 2 and isinstance(term.args[0], MatrixSymbol)
                    and term.args[0].name in matrices):
                linear.append((term.args[0].name, term.args[1]))
            elif isinstance(term, MatrixSymbol) and term.name in vectors:
                biases.append(term.name)
            else:
                rest.append(term)
        pres.append(_Pre(len(pres), eq, eq.rhs.function, linear, biases, rest))
    return pres


def _spans(pres, inputs):
    """Group the linear terms by operand, each group cut into runs of adjacent pre-activations."""
    by_operand: dict = {}
    for pre in pres:
        for matrix, operand in pre.linear:
            by_operand.setdefault(operand, []).append((matrix, pre))
    spans = []
    for operand, members in by_operand.items():
        hoisted = {s.name for s in operand.free_symbols if hasattr(s, "shape")} <= set(inputs)
        run = []
        for member in members:
            if run and (member[1].index != run[-1][1].index + 1):
                spans.append(_Span(operand, run[0][1].index, run, hoisted))
                run = []
            run.append(member)
        spans.append(_Span(operand, run[0][1].index, run, hoisted))
    return spans


def lower(derivation: Derivation) -> Code:
    """The structured lowering of ``derivation`` (see the module's docstring)."""
    _check_names(derivation)
    return _Lowering(derivation).code


class _Lowering:
    """The analysis of one derivation, and the statements it leads to, in five parts."""

    def __init__(self, derivation: Derivation):
        self.derivation = d = derivation
        self.cell = cell = d.cell
        self.params = [p.name for p in cell.parameters]
        self.matrices = _matrices(cell)
        self.pres = _pre_activations(d)
        self.in_block = {pre.equation.name: pre for pre in self.pres}
        self.width = len(self.pres)
        self.spans = _spans(self.pres, cell.inputs)
        operand_names = {a.value: a.target.name for a in d.intermediates}
        for k, span in enumerate(self.spans):
            span.name = _span_name(span, operand_names, k)
        self.hoisted = [s for s in self.spans if s.hoisted]
        self.saved = _saved_applications(d)
        self.own_arrays = [eq.name for eq in cell.equations if eq.name not in self.in_block]
        self.compound = [s for s in self.spans if not isinstance(s.operand, MatrixSymbol)]
        # Values kept for every step, in (T, B, n) arrays named <name>_seq; a step binds
        # <name> to its row of the array and computes in place there.
        self.kept = list(dict.fromkeys([*self.own_arrays, *(s.name for s in self.saved.values()),
                                        *(s.name for s in self.compound)]))
        self.code = Code()
        self.read = set()  # what the pass being written reads by name
        self.forward_setup()
        self.forward_step()
        self.read = set()
        self.backward_setup()
        self.backward_step()
        self.backward_finish()
        self.code.backward_params = [p for p in self.params if p in self.read]

    def block(self, array, lead, start, stop):
        return P.block(array, lead, start, stop, self.width)

    def columns(self, array, lead, pre):
        return self.block(array, lead, pre.index, pre.index + 1)

    def products(self, span) -> str:
        """``W_o h_{t-1}, W_i h_{t-1}``: the products a span computes, as text."""
        return ", ".join(text(MatMul(MatrixSymbol(m, *self._shape(m)), span.operand), self.params)
                         for m, _ in span.members)

    def _shape(self, name):
        return next(p.symbol.shape for p in self.cell.parameters if p.name == name)

    def show(self, expr, names):
        expr = expr.xreplace(self.saved)
        self.read |= {s.name for s in expr.free_symbols}
        return P.code(expr, names, self.matrices)

    def store(self, target: str, expr, names) -> list[str]:
        """``target[...] = expr`` for a view ``target``, writing the first product
        straight into it: ``a ⊙ b + c`` is np.multiply(a, b, out=target); target += c."""
        first, *rest = expr.args if isinstance(expr, MatAdd) else (expr,)
        if isinstance(first, HadamardProduct) and len(first.args) == 2:
            out = [P.multiply_into(self.show(first.args[0], names), self.show(first.args[1], names), target)]
            out += [P.assign(target, self.show(A.add(*rest), names), "+=")] if rest else []
            return out
        return [P.assign(P.everything(target), self.show(expr, names))]

    def forward_setup(self):
        """Stacked weights; the block `act` of pre-activations, with the input's products
        and the biases for every step at once; arrays for what backward reads."""
        F, pres = self.code.forward_setup, self.pres
        for span in self.spans:
            F.append(P.assign("weights_" + span.name, P.stack_columns([m for m, _ in span.members])))
        whole = len(self.hoisted) == 1 and self.hoisted[0].start == 0 and self.hoisted[0].stop == self.width
        if not whole:
            F.append(P.assign("act", P.zeros(f"(T, B, {P.width(self.width)})")))
        for span in self.hoisted:
            F.append(P.comment(self.products(span) + ": every step at once"))
            product = P.steps(P.matmul(P.rows(_operand_code(span, None)), "weights_" + span.name),
                              P.width(span.stop - span.start))
            if whole:
                F.append(P.assign("act", product))
            else:
                F.append(P.assign(self.block("act", ":, :", span.start, span.stop), product, "+="))
        self.biases_folded = set()
        if self.hoisted and all(len(pre.biases) == 1 for pre in pres):
            F.append(P.assign("act", P.concat([pre.biases[0] for pre in pres]), "+="))
            self.biases_folded = {(pre.index, pre.biases[0]) for pre in pres}
        else:
            for pre in pres:
                for b in pre.biases:
                    F.append(P.assign(self.columns("act", ":, :", pre), b, "+="))
                    self.biases_folded.add((pre.index, b))
        for span in self.spans:
            if not span.hoisted:
                F.append(P.assign("z_" + span.name, P.empty(f"(B, {P.width(span.stop - span.start)})")))
        for name in self.kept:
            F.append(P.assign(_seq(name), P.empty("(T, B, n)")))
        for s in self.cell.states:
            F.append(P.assign(naming.prev(s), P.at("state", P.key(s))))

    def forward_step(self):
        """The equations in order; a run of equations that apply one function to
        adjacent pre-activations is one call, after the products it needs."""
        L, in_block, spans = self.code.forward_loop, self.in_block, self.spans
        names = {x: P.at(x, "t") for x in self.cell.inputs}
        L.append(P.assign("z", P.at("act", "t")))
        for name in self.kept:
            L.append(P.assign(name, P.at(_seq(name), "t")))
        done_spans, done_saved = set(), set()
        equations = list(self.cell.equations)
        k = 0
        while k < len(equations):
            eq = equations[k]
            if eq.name not in in_block:
                for node, symbol in self.saved.items():
                    if eq.rhs.has(node) and symbol.name not in done_saved:
                        L.append(P.apply_into(node.function, P.code(node.arg, names, self.matrices), symbol.name))
                        done_saved.add(symbol.name)
                L.append(_comment(Assignment(eq.symbol, eq.rhs), self.params))
                L.extend(self.store(eq.name, eq.rhs, names))
                k += 1
                continue
            run = [eq]
            while (k + len(run) < len(equations) and equations[k + len(run)].name in in_block
                   and in_block[equations[k + len(run)].name].function == in_block[eq.name].function
                   and not _depends_on(in_block[equations[k + len(run)].name], run, spans)):
                run.append(equations[k + len(run)])
            for e in run:
                pre = in_block[e.name]
                for span in spans:
                    if not span.hoisted and span.name not in done_spans and pre in [m for _, m in span.members]:
                        if not isinstance(span.operand, MatrixSymbol):
                            L.append(_comment(Assignment(MatrixSymbol(span.name, *span.operand.shape), span.operand),
                                              self.params))
                            L.extend(self.store(span.name, span.operand, names))
                        L.append(P.comment(self.products(span) + ": one product"))
                        L.append(P.matmul_into("z_" + span.name, _operand_code(span, names), "weights_" + span.name))
                        L.append(P.assign(self.block("z", ":", span.start, span.stop), "z_" + span.name, "+="))
                        done_spans.add(span.name)
                for b in pre.biases:
                    if (pre.index, b) not in self.biases_folded:
                        L.append(P.assign(self.columns("z", ":", pre), b, "+="))
                for term in pre.rest:
                    L.append(P.assign(self.columns("z", ":", pre), self.show(term, names), "+="))
            for e in run:
                L.append(_comment(Assignment(e.symbol, e.rhs), self.params))
            first, last = in_block[run[0].name].index, in_block[run[-1].name].index + 1
            L.append(P.apply_into(in_block[eq.name].function, self.block("z", ":", first, last),
                                  self.block("z", ":", first, last)))
            for e in run:
                L.append(P.assign(e.name, self.columns("z", ":", in_block[e.name])))
                names[e.name] = e.name
            k += len(run)
        for s in self.cell.states:
            L.append(P.assign(naming.prev(s), s))
        code = self.code
        code.values = {eq.name: self.columns("act", ":, :", in_block[eq.name]) if eq.name in in_block else _seq(eq.name)
                       for eq in self.cell.equations}
        code.outputs = {s: code.values[s] for s in self.cell.states}
        code.cache = ["act", *(_seq(name) for name in self.kept), *("weights_" + s.name for s in spans)]

    def backward_setup(self):
        """The state before each step; which gradients are sums left for after the loop."""
        B_, cell, pres, spans = self.code.backward_setup, self.cell, self.pres, self.spans
        for s in cell.states:
            prev = naming.prev(s)
            B_.append(P.assign(_seq(prev), P.previous_all(P.at("state", P.key(s)), self.code.outputs[s])))
            B_.append(P.assign(naming.adjoint(prev), P.zeros("(B, n)")))
        B_.append(P.assign("dz", P.empty(f"(T, B, {P.width(self.width)})")))
        self.names = names = {x: P.at(x, "t") for x in cell.inputs}
        for pre in pres:
            names[naming.adjoint(naming.preactivation(pre.equation.name))] = self.columns("dz_t", ":", pre)
        # Sums over t of products with a span's operand, and the biases, wait for the loop's end.
        self.after = {naming.adjoint(m) for s in spans for m, _ in s.members}
        self.after |= {naming.adjoint(b) for pre in pres for b in pre.biases}
        for x in cell.inputs:
            if all(s.hoisted for s in spans if x in {a.name for a in s.operand.free_symbols if hasattr(a, "shape")}):
                self.after.add(naming.adjoint(x))
        for g in self.derivation.gradients:
            if g.target.name not in self.after:
                base = naming.parse(g.target.name)["base"]
                self.read.add(base)
                B_.append(P.assign(g.target.name, P.zeros(f"{base}.shape")))
        self.inputs_in_loop = [x for x in cell.inputs if naming.adjoint(x) not in self.after]
        for x in self.inputs_in_loop:
            B_.append(P.assign(naming.adjoint(x), P.empty("x.shape")))

    def backward_step(self):
        """The adjoint equations in order.  A run of adjacent pre-activations under one
        function writes each δv into its columns of dz, then δz = δv ⊙ f'(v) is one
        multiplication over the run; Σ_k W_kᵀ δz_k over a span is one product."""
        names, d = self.names, self.derivation
        L = []  # the statements; the values they read are bound in front of them below
        for c in d.carries:
            L.append(P.assign(c.incoming.name, P.add(P.at(_out(c.state.name), "t"), c.carried.name)))
        fused = {}  # name of δz_v -> (run, the act columns of the run)
        for run in _runs(self.pres, d):
            act = self.block("act", "t, :", run[0].index, run[-1].index + 1)
            for pre in run:
                fused[naming.adjoint(naming.preactivation(pre.equation.name))] = (tuple(run), act)
                names[naming.adjoint(pre.equation.name)] = self.columns("dz_t", ":", pre)
        pending: dict = {}  # run -> [assignments of its δz]

        def flush(run):
            deferred = pending.pop(run)
            for a in deferred:
                L.append(_comment(a, self.params))
            owner = next(p for p in run if naming.adjoint(naming.preactivation(p.equation.name)) == deferred[0].target.name)
            slope = A.hadamard(*deferred[0].value.args[1:]).xreplace(
                {owner.equation.symbol: MatrixSymbol("_run", *owner.equation.symbol.shape)})
            L.append(P.assign(self.block("dz_t", ":", run[0].index, run[-1].index + 1),
                              self.show(slope, {**names, "_run": fused[deferred[0].target.name][1]}), "*="))

        gradients = {g.target.name for g in d.gradients}
        vectors = {naming.adjoint(v) for v in _vectors(self.cell)}
        inputs = {naming.adjoint(x) for x in self.inputs_in_loop}
        carried = {c.carried.name for c in d.carries}
        for a in d.backward:
            target = a.target.name
            if target in self.after:
                continue
            for run in list(pending):
                if {naming.adjoint(naming.preactivation(p.equation.name)) for p in run} & {s.name for s in a.value.free_symbols}:
                    flush(run)
            if target in fused:
                run = fused[target][0]
                pending.setdefault(run, []).append(a)
                if len(pending[run]) == len(run):
                    flush(run)
                continue
            terms = list(a.value.args) if isinstance(a.value, MatAdd) else [a.value]
            products, rest = _span_products(terms, [s for s in self.spans if naming.adjoint(s.name) == target], self.pres)
            pieces = [P.matmul(self.block("dz_t", ":", s.start, s.stop), P.transpose("weights_" + s.name))
                      for s in products]
            remainder = A.add(*rest)
            if remainder is not None:
                pieces.append(self.show(remainder, names))
            value = P.add(*pieces) if pieces else "0"
            L.append(_comment(a, self.params))
            if target in gradients:
                L.append(P.assign(target, P.batch_sum(value) if target in vectors else value, "+="))
            elif target in inputs:
                L.append(P.assign(P.at(target, "t"), value))
            elif target in names and names[target].startswith("dz_t"):
                L.extend(self.store(names[target], a.value, names) if not products else [P.assign(names[target], value)])
            elif target in carried and products:
                # The carry has its own array (zeros before the last step): the product lands there.
                first = products[0]
                L.append(P.matmul_into(target, self.block("dz_t", ":", first.start, first.stop),
                                       P.transpose("weights_" + first.name)))
                if len(pieces) > 1:
                    L.append(P.assign(target, P.add(*pieces[1:]), "+="))
            else:
                L.append(P.assign(target, value))
        for run in list(pending):
            flush(run)
        bind = [P.assign("dz_t", P.at("dz", "t"))]
        bind += [P.assign(pre.equation.name, self.columns("act", "t, :", pre))
                 for pre in self.pres if pre.equation.name in self.read]
        bind += [P.assign(name, P.at(_seq(name), "t"))
                 for name in [*self.kept, *(naming.prev(s) for s in self.cell.states)] if name in self.read]
        self.code.backward_loop[:] = bind + L

    def backward_finish(self):
        """The sums over t as single products, and what backward returns."""
        E, code, cell = self.code.backward_finish, self.code, self.cell
        E.append(P.assign("dz_rows", P.rows("dz")))
        for span in self.spans:
            stacked = P.matmul(P.transpose(self.block("dz_rows", ":", span.start, span.stop)), _operand_rows(span, cell))
            E.append(P.comment(", ".join(derivative("L", m) for m, _ in span.members) + " = Σ_t (one product)"))
            E.append(P.assign("d_weights_" + span.name, stacked))
            for k, (m, _) in enumerate(span.members):
                code.d_params[m] = P.row_range("d_weights_" + span.name, k, k + 1)
        if any(pre.biases for pre in self.pres):
            E.append(P.assign("d_biases", P.batch_sum("dz_rows")))
            for pre in self.pres:
                for b in pre.biases:
                    code.d_params[b] = P.row_range("d_biases", pre.index, pre.index + 1)
        for g in self.derivation.gradients:
            code.d_params.setdefault(naming.parse(g.target.name)["base"], g.target.name)
        for x in cell.inputs:
            if naming.adjoint(x) in self.after:
                parts = [P.matmul(self.block("dz_rows", ":", s.start, s.stop), P.transpose("weights_" + s.name))
                         for s in self.hoisted if isinstance(s.operand, MatrixSymbol) and s.operand.name == x]
                E.append(P.assign(naming.adjoint(x), P.steps(P.add(*parts), "-1")))
            code.d_x = naming.adjoint(x)
        code.d_state = {c.state.name: c.carried.name for c in self.derivation.carries}
        code.d_params = {p.name: code.d_params[p.name] for p in cell.parameters}


def _seq(name: str) -> str:
    """The (T, B, n) array that keeps ``name`` for every step."""
    return name + "_seq"


def _runs(pres, derivation):
    """Runs of two or more adjacent pre-activations under the same function whose
    δv is read only by δz_v = δv ⊙ f'(v), so that δv can live in dz."""
    readers = {}
    for a in derivation.backward:
        for s in a.value.free_symbols:
            readers.setdefault(s.name, set()).add(a.target.name)
    runs, run = [], []
    for pre in pres:
        v = pre.equation.name
        alone = readers.get(naming.adjoint(v), set()) == {naming.adjoint(naming.preactivation(v))}
        value = derivation.adjoint(MatrixSymbol(naming.preactivation(v), 1, 1))
        shaped = isinstance(value, HadamardProduct) and value.args[0].name == naming.adjoint(v)
        if not (alone and shaped):
            runs.append(run)
            run = []
            continue
        if run and run[-1].function != pre.function:
            runs.append(run)
            run = []
        run.append(pre)
    runs.append(run)
    return [r for r in runs if len(r) >= 2]


def _span_name(span, operand_names, k):
    if isinstance(span.operand, MatrixSymbol):
        return span.operand.name
    return operand_names.get(span.operand, f"operand{k}")


def _operand_code(span, names):
    """The operand of a span's product: a symbol's code, or the name bound to a compound one."""
    if isinstance(span.operand, MatrixSymbol):
        return (names or {}).get(span.operand.name, span.operand.name)
    return span.name


def _operand_rows(span, cell):
    operand = span.operand
    if isinstance(operand, MatrixSymbol):
        if operand.name in cell.inputs:
            return P.rows(operand.name)
        return P.rows(_seq(operand.name))
    return P.rows(_seq(span.name))


def _depends_on(pre, run, spans):
    """Whether ``pre`` reads, through the operand of one of its products, an equation of ``run``."""
    earlier = {e.symbol for e in run}
    return any(earlier & operand.free_symbols for _, operand in pre.linear)


def _span_products(terms, spans, pres):
    """Pick out of a sum the terms Σ_k P_kᵀ δz_k that make up whole spans."""
    adjoint_of = {naming.adjoint(naming.preactivation(pre.equation.name)): pre for pre in pres}
    found = {}
    for term in terms:
        if (isinstance(term, MatMul) and len(term.args) == 2 and isinstance(term.args[0], Transpose)
                and isinstance(term.args[1], MatrixSymbol) and term.args[1].name in adjoint_of):
            found[(term.args[0].arg.name, adjoint_of[term.args[1].name].index)] = term
    products, used = [], set()
    for span in spans:
        keys = [(m, pre.index) for m, pre in span.members]
        if all(k in found for k in keys):
            products.append(span)
            used |= {found[k] for k in keys}
    return products, [t for t in terms if t not in used]
