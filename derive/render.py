"""Jinja rendering: the one environment every generated file goes through."""

from __future__ import annotations

from pathlib import Path

import jinja2

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"


def _pytuple(values) -> str:
    return repr(tuple(values))


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    env.filters["pytuple"] = _pytuple
    env.filters["pyrepr"] = repr
    return env


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)
