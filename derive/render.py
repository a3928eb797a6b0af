"""Jinja rendering: the one environment every generated file goes through."""

from __future__ import annotations

from pathlib import Path

import jinja2

# Each stage keeps its templates beside its code; their names do not overlap.
HERE = Path(__file__).resolve().parent
TEMPLATES = (HERE / "codegen" / "templates", HERE / "site" / "templates")


def _pytuple(values) -> str:
    return repr(tuple(values))


def _pydoc(text) -> str:
    """``text`` as it reads inside a triple-quoted docstring: a backslash or a quote
    escaped, so that no text can end the docstring and be run as code."""
    return str(text).replace("\\", "\\\\").replace('"', '\\"')


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(list(TEMPLATES)),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    env.filters["pytuple"] = _pytuple
    env.filters["pyrepr"] = repr
    env.filters["pydoc"] = _pydoc
    return env


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)
