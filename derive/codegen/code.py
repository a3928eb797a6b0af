"""What a lowering hands to the module template: statements of :mod:`.ir`, and the
nodes that hold the outputs and gradients.  :func:`derive.printing.numpy.statements`
prints it, leaving out the assignments that nothing reads."""

from __future__ import annotations

from dataclasses import dataclass, field

from .ir import Node, Statement


@dataclass
class Code:
    """The statements of ``forward`` and ``backward`` around and inside their loops."""

    forward_setup: list[Statement] = field(default_factory=list)
    forward_loop: list[Statement] = field(default_factory=list)
    forward_finish: list[Statement] = field(default_factory=list)
    backward_setup: list[Statement] = field(default_factory=list)
    backward_chunk: list[Statement] = field(default_factory=list)  # for each chunk of steps, ahead of them
    backward_loop: list[Statement] = field(default_factory=list)
    backward_finish: list[Statement] = field(default_factory=list)
    cache: list[str] = field(default_factory=list)  # names saved by forward for backward
    backward_params: list[str] = field(default_factory=list)  # parameters backward reads by name
    outputs: dict[str, Node] = field(default_factory=dict)  # state -> its (T, B, n) array
    values: dict[str, Node] = field(default_factory=dict)  # equation -> its (T, B, n) values
    d_params: dict[str, Node] = field(default_factory=dict)
    d_x: Node = ""
    d_state: dict[str, Node] = field(default_factory=dict)
