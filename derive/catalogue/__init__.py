"""The catalogue: every cell that ships with derive, one TOML file each in this folder.

``rnn``, ``lstm`` and ``gru`` are the three the explainer is about, in the
project's notation (state ``s``, output ``h``, gates ``o``, ``i``, ``f``,
candidate ``s_tilde``; ``W`` multiplies the state or the output, ``U`` the
input).  The others are the variants people ask about.  Each is derived,
proved, generated into ``derive/generated/`` and checked like the three.
"""

from __future__ import annotations

from pathlib import Path

from ..cell import Cell, CellError
from ..cellfile import SUFFIX, load

FOLDER = Path(__file__).resolve().parent
CORE = ("rnn", "lstm", "gru")
# The variants in the order the site and `verify` show them; a file not listed comes after.
VARIANTS = (
    "lstm_without_forget_gate",
    "lstm_peephole",
    "lstm_coupled",
    "gru_torch",
    "mgu",
    "indrnn",
    "mingru",
    "minlstm",
    "slstm",
    "lru",
)


def _in_order(path: Path) -> tuple[int, str]:
    order = (*CORE, *VARIANTS)
    return (order.index(path.stem) if path.stem in order else len(order), path.stem)


CATALOGUE: dict[str, Cell] = {
    path.stem: load(path) for path in sorted(FOLDER.glob(f"*{SUFFIX}"), key=_in_order)
}


def resolve(name_or_path: str | Path) -> Cell:
    """The catalogue's cell of that name, or the cell in that file (a path, or a name ending in .toml)."""
    text = str(name_or_path)
    if text in CATALOGUE:
        return CATALOGUE[text]
    if text.endswith(SUFFIX) or "/" in text or Path(text).is_file():
        return load(text)
    raise CellError(
        f"no cell {text!r}: name one of the catalogue ({', '.join(CATALOGUE)}) "
        f"or a cell file such as my_cell{SUFFIX} (`python -m derive new my_cell` writes one)"
    )
