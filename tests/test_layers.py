"""The package is layered: no module of derive/ imports a layer above its own (LAYERS),
and the import graph has no cycle, within a layer either.

Every import counts, the ones inside functions too, relative or absolute, and
``importlib.import_module`` of a literal name.  Importing ``derive.a.b`` also runs
``derive/a/__init__.py``, so it counts as importing the package ``derive.a`` as
well, unless the importer lives inside ``derive.a`` (Python has begun that
package before any of its modules).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from derive.build import ROOT

PACKAGE = ROOT / "derive"

# derive's modules and sub-packages by layer, bottom to top: a module imports its own
# layer and the ones below.  The package's __init__ (``derive``) is at the top: it
# hands out the public names.
LAYERS = (
    ("cell", "naming", "cellfile", "catalogue", "elementwise", "algebra", "rules", "derivation", "generated"),
    ("render", "printing", "codegen", "verification", "backends"),
    ("site", "training", "interop"),
    ("build", "bench", "bench_torch", "cli", "__main__"),
)


def modules(package: Path) -> dict[str, Path]:
    """Every module of ``package`` by its dotted name (a package by its own name)."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        parts = path.relative_to(package.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imported(name: str, path: Path) -> Iterator[str]:
    """The dotted names ``name`` (the module at ``path``) imports, as written."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def resolve(module: str | None, level: int) -> str:
        if not level:
            return module or ""
        base = package.split(".")
        base = base[: len(base) - level + 1]
        return ".".join([*base, module] if module else base)

    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = resolve(node.module, node.level)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            target = node.args[0].value
            level = len(target) - len(target.lstrip("."))
            yield resolve(target[level:] or None, level)


def graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Each module of ``package`` and the modules of ``package`` it imports."""
    known = modules(package)
    edges: dict[str, set[str]] = {}
    for name, path in known.items():
        edges[name] = set()
        for target in _imported(name, path):
            parts = target.split(".")
            for end in range(1, len(parts) + 1):
                prefix = ".".join(parts[:end])
                inside = name == prefix or name.startswith(prefix + ".")
                if prefix in known and not inside:
                    edges[name].add(prefix)
    return edges


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """A shortest cycle of the graph, first module repeated at the end, or None."""
    best: list[str] | None = None
    for start in sorted(edges):
        # Breadth first from start's targets back to start: the shortest cycle through it.
        came: dict[str, str] = {}
        frontier = [start]
        while frontier and start not in came:
            following = []
            for node in frontier:
                for target in sorted(edges.get(node, ())):
                    if target not in came:
                        came[target] = node
                        following.append(target)
            frontier = following
        if start in came:
            path = [start]
            while len(path) == 1 or path[-1] != start:
                path.append(came[path[-1]])
            path.reverse()
            if best is None or len(path) < len(best):
                best = path
    return best


def test_the_graph_sees_every_kind_of_import(tmp_path: Path) -> None:
    """On a small package: imports inside functions, relative ones, ``import a.b``, a
    module's package, ``import_module`` of a literal name; and the cycle they make."""
    files = {
        "__init__.py": "",
        "low.py": "def f():\n    from . import other\n",
        "mid.py": "import importlib\nimportlib.import_module('.top.page', __package__)\n",
        "top/__init__.py": "from importlib import import_module\nimport_module('pkg.other')\n",
        "top/page.py": "from ..low import f\nfrom . import sibling\n",
        "top/sibling.py": "import pkg.mid\n",
        "other.py": "",
    }
    for name, text in files.items():
        (tmp_path / "pkg" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "pkg" / name).write_text(text)
    edges = graph(tmp_path / "pkg")
    assert edges == {
        "pkg": set(),
        "pkg.low": {"pkg.other"},
        "pkg.mid": {"pkg.top", "pkg.top.page"},
        "pkg.top": {"pkg.other"},
        "pkg.top.page": {"pkg.low", "pkg.top.sibling"},
        "pkg.top.sibling": {"pkg.mid"},
        "pkg.other": set(),
    }
    assert cycle(edges) == ["pkg.mid", "pkg.top.page", "pkg.top.sibling", "pkg.mid"]


def test_the_import_graph_of_derive_has_no_cycle() -> None:
    found = cycle(graph())
    assert found is None, "derive/ imports in a cycle: " + " → ".join(found or ())


def layer(module: str) -> int:
    """The layer of a module of derive/ (the top one for ``derive`` itself)."""
    if module == PACKAGE.name:
        return len(LAYERS) - 1
    top = module.split(".")[1]
    found = [n for n, names in enumerate(LAYERS) if top in names]
    assert found, f"{module} is in no layer: add {top!r} to LAYERS in tests/test_layers.py"
    return found[0]


def test_no_module_imports_a_layer_above_its_own() -> None:
    upward = [
        f"{module} → {target}"
        for module, targets in sorted(graph().items())
        for target in sorted(targets)
        if layer(target) > layer(module)
    ]
    assert upward == [], "imports from a lower layer to a higher one: " + "; ".join(upward)
