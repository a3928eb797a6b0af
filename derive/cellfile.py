"""Cells as TOML files: read one, with every mistake named by file and line.

A cell file is the Python definition of a :class:`~derive.cell.Cell` in TOML::

    title = "Minimal gated unit (MGU)"
    states = ["s"]
    affine = ["f", ""]          # W_f, U_f, b_f and W, U, b

    [parameters]                # any others: a name and its shape
    p = "hidden"                # a vector, hidden × 1
    V = ["hidden", "input"]     # a matrix
    zeta = "1"                  # a scalar, spread over the units

    [[equations]]
    equation = "f = σ(W_f @ s_prev + U_f @ x + b_f)"
    role = "gate"
    meaning = "forget gate: how much of the old state to keep"

The cell's name is the file's stem.  The text after ``=`` is read by the same
parser as a cell written in Python, so the same :class:`CellError` names what is
wrong; here it also names the file and the line.

>>> from derive.cellfile import loads
>>> loads('states = ["s"]\\naffine = [""]\\n[[equations]]\\nequation = "s = tanh(W @ s_prev + U @ x + b)"\\n'
...       'role = "state"\\nmeaning = "new state"', "rnn").equations[0].text
'tanh(W @ s_prev + U @ x + b)'
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from .cell import SIZES, Cell, CellError, Equation, Parameter, affine

SUFFIX = ".toml"
TOP_KEYS = {"title", "states", "inputs", "affine", "parameters", "equations"}
EQUATION_KEYS = {"equation", "role", "meaning"}


# What `python -m derive new NAME` writes: a working cell (a minimal gated unit) that
# says, in comments, how to change it.
STARTER = """\
# A recurrent cell for derive: `python -m derive equations {name}.toml` prints its
# gradients, `verify {name}.toml` proves them, `code {name}.toml --out {name}.py` writes
# its NumPy module. As written it is a minimal gated unit (one gate, one state); change
# the equations to make it your own.

title = "{title}"

# The equations whose values are carried to the next step. Inside an equation,
# s_prev is the value of state s at the previous step and x the input at this step.
# The states are also the cell's outputs: the generated forward returns each state at
# every step, for a loss or the next layer to read. An output that no equation reads
# at the next step (SRU's h, an LRU's read-out y) is declared a state all the same:
# states = ["s", "h"] with an equation for h; h_prev then goes unread, and nothing
# flows back into h from the step after.
states = ["s"]

# Affine blocks: each label gives W_label (hidden × hidden, multiplies a state),
# U_label (hidden × input, multiplies x) and b_label (a bias); "" gives W, U and b.
affine = ["f", ""]

# Any other parameters, by shape: "hidden" is a vector (one weight per unit),
# ["hidden", "hidden"] or ["hidden", "input"] a matrix, "1" a scalar (one weight for
# all units: zeta * s_prev scales every unit by zeta, and its gradient is the sum
# over units, sequences and steps). For example:
# [parameters]
# p = "hidden"
# zeta = "1"

# The equations, in the order a step computes them. Operators: @ (matrix product),
# * and / (elementwise product and quotient, by any column or number), +, -, numbers,
# and the functions {functions}.
# role is gate, candidate, state or output; meaning is one line for the reader.

[[equations]]
equation = "f = σ(W_f @ s_prev + U_f @ x + b_f)"
role = "gate"
meaning = "forget gate: how much of the old state to keep, and how much of the candidate to take in"

[[equations]]
equation = "s_tilde = tanh(W @ (f * s_prev) + U @ x + b)"
role = "candidate"
meaning = "candidate state, computed from the gated old state and the input"

[[equations]]
equation = "s = (1 - f) * s_prev + f * s_tilde"
role = "state"
meaning = "the new state: what the gate takes in replaces what it forgets"
"""


def starter(name: str) -> str:
    """The text of a starter cell file for a cell called ``name``."""
    from .elementwise import FUNCTIONS

    spellings = [" or ".join(f.spellings) for f in FUNCTIONS.values()]
    return STARTER.format(
        name=name, title=name.replace("_", " ").capitalize(), functions=", ".join(spellings)
    )


def header(path: str | Path) -> str:
    """The comment at the top of a cell file, as one paragraph (what the cell is)."""
    lines = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(" ".join(lines).split())


def load(path: str | Path) -> Cell:
    """The cell in the file ``path``; its name is the file's stem."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CellError(f"{path}: no such cell file") from None
    except OSError as e:
        raise CellError(f"{path}: cannot be read: {e.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise CellError(f"{path}:{line}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    return loads(text, path.stem, str(path))


def loads(text: str, name: str, where: str = "<cell file>") -> Cell:
    """The cell that the TOML ``text`` defines, named ``name``; ``where`` names the text in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        line = m[1] if (m := re.search(r"\(at line (\d+)", str(e))) else "1"
        raise CellError(f"{where}:{line}: not valid TOML: {e}") from None
    try:
        return _cell(data, name)
    except CellError as e:
        line = _line_of(text, str(e))
        raise CellError(f"{where}{f':{line}' if line else ''}: {e}") from None


def _cell(data: dict, name: str) -> Cell:
    _known(data, TOP_KEYS, "the file", "title, states, affine, [parameters] and [[equations]]")
    parameters: list[Parameter] = []
    labels = data.get("affine", [])
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise CellError('affine must be a list of labels, e.g. affine = ["o", ""] for W_o, U_o, b_o, W, U, b')
    for label in labels:
        parameters += affine(label)
    table = data.get("parameters", {})
    if not isinstance(table, dict):
        raise CellError('[parameters] must be a table of name = shape, e.g. p = "hidden"')
    for key, shape in table.items():
        parameters.append(_parameter(key, shape))
    equations = data.get("equations")
    if not isinstance(equations, list) or not equations:
        raise CellError(
            "the cell has no [[equations]]; add one table per equation, in order, "
            'with equation = "s = ...", role and meaning'
        )
    return Cell(
        name=name,
        title=data.get("title", name),
        parameters=tuple(parameters),
        states=_strings(data.get("states"), "states", '["s"]'),
        equations=tuple(_equation(k, e) for k, e in enumerate(equations, 1)),
        inputs=_strings(data.get("inputs", ["x"]), "inputs", '["x"]'),
    )


def _parameter(name: str, shape) -> Parameter:
    """``p = "hidden"`` is a vector; ``V = ["hidden", "input"]`` a matrix; ``zeta = "1"`` a scalar."""
    if isinstance(shape, str):
        shape = [shape, "1"]
    if (
        not isinstance(shape, list)
        or len(shape) != 2
        or not all(isinstance(d, str) and d in SIZES for d in shape)
    ):
        raise CellError(
            f"parameter {name!r}: the shape {shape!r} is not one of the forms "
            '"hidden" (a vector), "1" (a scalar), ["hidden", "hidden"] or ["hidden", "input"]'
        )
    return Parameter(name, shape[0], shape[1])


def _equation(number: int, table) -> Equation:
    if not isinstance(table, dict):
        raise CellError(f"equation {number} must be a [[equations]] table")
    _known(table, EQUATION_KEYS, f"equation {number}", "equation, role and meaning")
    text = table.get("equation")
    if not isinstance(text, str) or "=" not in text:
        raise CellError(
            f'equation {number}: write it as equation = "name = expression", e.g. "s = tanh(...)"'
        )
    target, _, value = text.partition("=")
    role = table.get("role")
    if not isinstance(role, str):
        raise CellError(f"equation {number}: role must be one of gate, candidate, state, output")
    return Equation(target.strip(), value.strip(), role.lower(), table.get("meaning", ""))


def _strings(value, key: str, example: str) -> tuple:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CellError(f"{key} must be a list of names, e.g. {key} = {example}")
    return tuple(value)


def _known(table: dict, keys: set[str], where: str, expected: str) -> None:
    unknown = sorted(set(table) - keys)
    if unknown:
        raise CellError(f"{where}: unknown key {unknown[0]!r}; a cell file knows {expected}")


def _line_of(text: str, message: str) -> int | None:
    """The line a message is about: the key, equation or parameter it names; for a key
    the file lacks, where it goes (a top-level key at the top, an equation at the end).
    None for the cell's name, which is the file's and no line's."""
    lines = text.splitlines()
    headers = [k for k, line in enumerate(lines) if re.match(r"\s*\[", line)]

    def section(k: int) -> range:
        return range(k, next((h for h in headers if h > k), len(lines)))

    top = range(headers[0] if headers else len(lines))
    tables = [section(k) for k in headers if re.match(r"\s*\[\[\s*equations\s*\]\]", lines[k])]
    parameters = next((section(k) for k in headers if re.match(r"\s*\[\s*parameters\s*\]", lines[k])), None)

    def key(name: str, within: range = top) -> int | None:
        for k in within:
            if re.match(rf"\s*[\"']?{re.escape(name)}[\"']?\s*=", lines[k]):
                return k + 1
        return None

    # What the message is about, after the cell's name: "equation 'f': ...", "state 'n': ...".
    subject = re.sub(r"^cell '[^']*'(?:, |: | )", "", message)
    if subject.startswith("a cell's name"):
        return None
    if m := re.match(r"equation (?:(\d+)|'([^']*)')(?::\s*)?(.*)", subject):
        number, name, rest = m.groups()
        if number:
            table = tables[int(number) - 1] if int(number) <= len(tables) else None
        else:
            defines = rf"\s*equation\s*=\s*[\"']\s*{re.escape(name)}\s*="
            line = next((k for k, text in enumerate(lines) if re.match(defines, text)), None)
            table = next((t for t in tables if line in t), None if line is None else range(line, line + 1))
        if table is None:
            return key("equations") or 1
        if m := re.search(r"unknown key '([^']+)'", rest):
            return key(m[1], table) or table.start + 1
        if re.search(r"\brole\b", rest) and not rest.startswith("write it"):
            return key("role", table) or table.start + 1
        if rest.startswith("the meaning"):
            return key("meaning", table) or table.start + 1
        return key("equation", table) or table.start + 1
    if m := re.match(r"parameter '([^']*)'", subject):
        line = key(m[1], parameters) if parameters else key(m[1])
        if line is None and re.fullmatch(r"[WUb](_\w+)?", m[1]):
            line = key("affine")
        return line or key("parameters") or (parameters.start + 1 if parameters else 1)
    if m := re.match(r"the file: unknown key '([^']+)'", subject):
        table = rf"\s*\[+\s*[\"']?{re.escape(m[1])}[\"']?\s*\]+"
        return key(m[1]) or next((k + 1 for k, text in enumerate(lines) if re.match(table, text)), 1)
    if re.match(r"\[parameters\]|has no parameters|no parameter has the hidden size", subject):
        return key("parameters") or (parameters.start + 1 if parameters else None) or key("affine") or 1
    if re.match(r"the cell has no \[\[equations\]\]|has no equations", subject):
        return key("equations") or max(len(lines), 1)
    for name, pattern in (
        ("states", r"states?\b|has no states"),
        ("inputs", r"inputs\b|the generated modules take one input"),
        ("title", r"(the )?title\b"),
        ("affine", r"affine\b"),
    ):
        if re.match(pattern, subject):
            return key(name) or 1
    return 1
