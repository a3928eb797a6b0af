"""Lines of the generated modules that fit in :data:`LINE_LENGTH` columns, whatever the cell.

The printers write one statement per line; a long equation, a long title or
many parameters would make lines longer than the project's linter allows.
:func:`python` breaks a line of code the way a reader would: inside its last
bracket, or in parentheses before the operators of its loosest sums and
products, one term per line; a comment or a line of prose breaks between
words.  A wrapped statement is checked to be the same statement (its syntax
tree is unchanged), so wrapping never changes what the code computes.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

LINE_LENGTH = 110  # ruff's line-length in pyproject.toml
INDENT = 4  # what a continuation line adds

# Operators a line may break before, loosest first (a comma is looser still).
_LEVELS = ({"+", "-"}, {"*", "@", "/", "//", "%"}, {"**"})
_ASSIGN = {"=", "+=", "-=", "*=", "/=", "@=", "//=", "%=", "**=", ":"}
_OPEN, _CLOSE = "([{", ")]}"
# Where a comment or prose breaks best: before an operator, after a colon, a
# semicolon or a comma (in that order).
_BREAK_BEFORE = {"+", "-", "⊙", "=", "@"}
_BREAK_AFTER = (":", ";", ",")


def width(text: str) -> int:
    """The columns ``text`` takes, as the linter counts them: a combining mark takes
    none, a wide character two."""
    total = 0
    for c in text:
        if unicodedata.category(c) in ("Mn", "Me"):
            continue
        total += 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1
    return total


def python(line: str, indent: int, limit: int = LINE_LENGTH) -> str:
    """``line``, one line of Python (a statement, a comment, or an entry ``key: value,``
    of a dict) written at column ``indent``, broken into lines that fit in ``limit``
    columns where it can be.  The first line comes without its indentation (the
    template writes it), the others with theirs.

    >>> print("    " + python("total = first_term + second_term * factor", 4, 32))
        total = (
            first_term
            + second_term * factor
        )
    >>> print("        " + python("np.matmul(dz_t, weights_h_prev.T, out=d_h_prev)", 8, 50))
            np.matmul(
                dz_t, weights_h_prev.T, out=d_h_prev
            )
    """
    if indent + width(line) <= limit:
        return line
    if line.startswith("#"):
        return words(line[1:].lstrip(" "), indent, limit, first="# ", then="#" + " " * (1 + INDENT))
    tokens = _tokens(line)
    if tokens is None:
        return line
    lines = _Layout(line, limit).statement(tokens, indent)
    wrapped = "\n".join(lines)[indent:]
    if _tree(wrapped) != _tree(line):
        raise AssertionError(
            f"wrapping changed the statement {line!r} into {wrapped!r}; this is a bug in derive"
        )
    return wrapped


def words(text: str, indent: int, limit: int = LINE_LENGTH, first: str = "", then: str = "") -> str:
    """``text`` broken between words into lines that fit in ``limit`` columns: the
    first at column ``indent`` after ``first``, the others at ``indent`` after
    ``then`` (their indentation included, the first line's left to the template).
    Where the line may break before an operator (+, -, ⊙, =, @) or after a colon
    (then a semicolon, then a comma) and keep at least half its room, it does,
    at the one inside the fewest brackets.

    >>> print(words("δs = δh ⊙ o ⊙ (1 - tanh(s)²) + δs_in", 4, 36, "# ", "#     "))
    # δs = δh ⊙ o ⊙ (1 - tanh(s)²)
        #     + δs_in
    """
    parts = text.rstrip(" ").split(" ")
    lines: list[str] = []
    prefix = first
    while parts:
        room = limit - indent - width(prefix)
        taken, best = 1, None
        for k in range(2, len(parts) + 1):
            line = " ".join(parts[:k])
            if width(line) > room:
                break
            taken = k
            if k == len(parts) or 2 * width(line) < room:
                continue
            rank = (
                0
                if parts[k] in _BREAK_BEFORE
                else next((r for r, mark in enumerate(_BREAK_AFTER) if parts[k - 1].endswith(mark)), None)
            )
            if rank is not None:
                depth = sum(line.count(c) for c in _OPEN) - sum(line.count(c) for c in _CLOSE)
                if best is None or (depth, rank) <= best[1:]:
                    best = (k, depth, rank)
        if taken < len(parts) and best is not None:
            taken = best[0]
        lines.append((prefix + " ".join(parts[:taken])).rstrip(" "))
        parts = parts[taken:]
        while parts and not parts[0]:
            parts = parts[1:]
        prefix = then
    return "\n".join([lines[0], *(" " * indent + line for line in lines[1:])])


@dataclass(frozen=True)
class _Token:
    kind: int
    text: str
    start: int
    end: int
    depth: int  # brackets open before it (a closing bracket counts its own)


def _tokens(line: str) -> list[_Token] | None:
    try:
        raw = list(tokenize.generate_tokens(io.StringIO(line).readline))
    except (tokenize.TokenError, SyntaxError):
        return None
    out: list[_Token] = []
    depth = 0
    for t in raw:
        if t.type in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.COMMENT):
            continue
        if t.start[0] != 1:
            return None
        if t.type == tokenize.OP and t.string in _CLOSE:
            depth -= 1
        out.append(_Token(t.type, t.string, t.start[1], t.end[1], depth))
        if t.type == tokenize.OP and t.string in _OPEN:
            depth += 1
    return out if depth == 0 else None


def _base(tokens: Sequence[_Token]) -> int:
    """The depth of the outermost tokens of a piece of a line."""
    return min(t.depth for t in tokens)


def _tree(text: str) -> str:
    """The syntax tree of a statement or of a dict entry, to compare two spellings."""
    for candidate in (text, "{" + text + "}"):
        try:
            return ast.dump(ast.parse(candidate))
        except SyntaxError:
            continue
    return text


class _Layout:
    def __init__(self, line: str, limit: int) -> None:
        self.line, self.limit = line, limit

    def text(self, tokens: Sequence[_Token]) -> str:
        return self.line[tokens[0].start : tokens[-1].end] if tokens else ""

    def fits(self, indent: int, text: str) -> bool:
        return indent + width(text) <= self.limit

    def statement(self, tokens: list[_Token], indent: int) -> list[str]:
        """A whole line: ``head = value`` (or ``key: value,``) or an expression."""
        pad = " " * indent
        split = next((k for k, t in enumerate(tokens) if t.depth == 0 and t.text in _ASSIGN), None)
        head = tokens[: split + 1] if split is not None else []
        value = tokens[len(head) :]
        suffix = value[-1:] if len(value) > 1 and value[-1].text == "," and value[-1].depth == 0 else []
        value = value[: len(value) - len(suffix)]
        if not value:
            return [pad + self.line]
        before = self.line[: value[0].start]
        after = self.text(suffix)
        if len(value) == 1 and value[0].kind == tokenize.STRING:
            return self.string(before, value[0], after, indent)
        level = self.level(value)
        wrapped = self.right(tokens, indent, len(head)) if self.single(value, level) else None
        if wrapped is not None:
            return wrapped
        if head and level is not None:
            return [pad + before + "(", *self.expression(value, indent + INDENT), pad + ")" + after]
        return [pad + self.line]

    def level(self, tokens: Sequence[_Token]) -> int | None:
        """The loosest delimiter outside brackets (0 a comma, then the levels of
        :data:`_LEVELS`), or None."""
        found, base = None, _base(tokens)
        for k, t in enumerate(tokens):
            if t.depth != base or t.kind != tokenize.OP:
                continue
            if t.text == ",":
                return 0
            for n, ops in enumerate(_LEVELS, start=1):
                if t.text in ops and self.binary(tokens, k) and (found is None or n < found):
                    found = n
        return found

    def single(self, tokens: Sequence[_Token], level: int | None) -> bool:
        """Whether ``tokens`` have at most one delimiter of their loosest level (``a * (...)``),
        where breaking inside the last bracket reads better than before the operator."""
        return level is None or (level > 0 and len(self.pieces(tokens, level)) <= 2)

    @staticmethod
    def binary(tokens: Sequence[_Token], k: int) -> bool:
        """Whether the operator at ``k`` joins two operands (not a sign)."""
        if k == 0:
            return False
        before = tokens[k - 1]
        return before.kind in (tokenize.NAME, tokenize.NUMBER, tokenize.STRING) or before.text in _CLOSE

    def pieces(self, tokens: Sequence[_Token], level: int) -> list[list[_Token]]:
        """``tokens`` cut after each comma (level 0), or before each operator of the level."""
        out: list[list[_Token]] = [[]]
        base = _base(tokens)
        for k, t in enumerate(tokens):
            cut = t.depth == base and t.kind == tokenize.OP
            if level == 0 and cut and t.text == ",":
                out[-1].append(t)
                out.append([])
                continue
            if level and cut and t.text in _LEVELS[level - 1] and self.binary(tokens, k):
                out.append([])
            out[-1].append(t)
        return [p for p in out if p]

    def expression(self, tokens: list[_Token], indent: int) -> list[str]:
        """Lines of an expression inside brackets, at ``indent``."""
        pad = " " * indent
        if self.fits(indent, self.text(tokens)):
            return [pad + self.text(tokens)]
        level = self.level(tokens)
        if self.single(tokens, level):
            split = self.right(tokens, indent, 0)
            if split is not None or level is None:
                return split if split is not None else [pad + self.text(tokens)]
        assert level is not None
        pieces = self.pieces(tokens, level)
        lines: list[str] = []
        for k, piece in enumerate(pieces):
            lines.extend(self.piece(piece, indent, level, k > 0))
        if level == 0 and pieces[-1][-1].text != ",":
            lines[-1] += ","  # one item a line, each with its comma
        return lines

    def piece(self, tokens: list[_Token], indent: int, level: int, after: bool) -> list[str]:
        """One argument, or one term (``after`` the first, with its operator), on lines of its own."""
        pad = " " * indent
        if self.fits(indent, self.text(tokens)):
            return [pad + self.text(tokens)]
        split = self.right(tokens, indent, 0)
        if split is not None:
            return split
        # Its own delimiters (tighter than the level it was cut at) in parentheses,
        # after its operator, or after the name of a keyword argument.
        if level:
            lead = 1 if after else 0
        else:
            keyword = len(tokens) > 2 and tokens[0].kind == tokenize.NAME and tokens[1].text == "="
            lead = 2 if keyword else 0
        comma = tokens[-1:] if level == 0 and tokens[-1].text == "," else []
        body = tokens[lead : len(tokens) - len(comma)]
        if len(body) > 1 and self.level(body) is not None:
            before = self.line[tokens[0].start : body[0].start]
            return [pad + before + "(", *self.expression(body, indent + INDENT), pad + ")" + self.text(comma)]
        return [pad + self.text(tokens)]

    def right(self, tokens: list[_Token], indent: int, start: int) -> list[str] | None:
        """Broken inside a bracket at or after ``start``: the last (``f(...)``, ``-(...)``,
        ``(...)**2``), or one that only trailers follow (``(...).reshape(T, B, -1)``),
        the last that leaves the first and last lines short enough; None if there is none."""
        pad = " " * indent
        closes = {}
        stack: list[int] = []
        for k, t in enumerate(tokens):
            if t.kind == tokenize.OP and t.text in _OPEN:
                stack.append(k)
            elif t.kind == tokenize.OP and t.text in _CLOSE:
                closes[stack.pop()] = k
        base = _base(tokens)
        for k in range(len(tokens) - 1, start - 1, -1):
            t = tokens[k]
            if t.depth != base or k not in closes or closes[k] == k + 1:
                continue
            end = closes[k]
            after = tokens[end + 1 :]
            last = not any(a.depth == base and a.text in _OPEN for a in after)
            if not (last or self.trailers(after)):
                continue
            head, tail = self.line[tokens[0].start : t.end], self.line[tokens[end].start : tokens[-1].end]
            if self.fits(indent, head) and self.fits(indent, tail):
                return [pad + head, *self.expression(tokens[k + 1 : end], indent + INDENT), pad + tail]
        return None

    @staticmethod
    def trailers(tokens: Sequence[_Token]) -> bool:
        """Whether ``tokens`` are attributes, calls and subscripts (and a final comma) only."""
        base = _base(tokens) if tokens else 0
        for k, t in enumerate(tokens):
            if t.depth != base:
                continue
            if t.text == "," and k == len(tokens) - 1:
                continue
            if t.kind == tokenize.OP and t.text not in (".", *_OPEN, *_CLOSE):
                return False
        return True

    def string(self, before: str, token: _Token, after: str, indent: int) -> list[str]:
        """A long string literal as pieces that are joined when the module is read."""
        value = ast.literal_eval(token.text)
        if not isinstance(value, str):
            return [" " * indent + self.line]
        pad = " " * (indent + INDENT)
        room = self.limit - indent - INDENT
        chunks = re.findall(r"\S*\s*", value)
        parts: list[str] = [""]
        for chunk in chunks:
            if parts[-1] and width(repr(parts[-1] + chunk)) > room:
                parts.append("")
            parts[-1] += chunk
        return [
            " " * indent + before + "(",
            *(pad + repr(p) for p in parts if p),
            " " * indent + ")" + after,
        ]


__all__ = ["INDENT", "LINE_LENGTH", "python", "width", "words"]
