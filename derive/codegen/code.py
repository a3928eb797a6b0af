"""The statements a lowering hands to the module template."""

from __future__ import annotations

from dataclasses import dataclass, field


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
