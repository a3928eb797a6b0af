"""What a lowering hands to a backend: the statements of :mod:`.ir` of each function,
and the nodes that hold its outputs and gradients.  :func:`.unused.prune` leaves
out the assignments that nothing reads; a backend's printer spells the rest."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .ir import Node, Statement


@dataclass(frozen=True)
class Code:
    """The statements of ``forward`` and ``backward``, each with its loop over the
    steps (an :class:`.ir.Loop` among them), and what each function returns."""

    forward: tuple[Statement, ...] = ()
    backward: tuple[Statement, ...] = ()
    cache: tuple[str, ...] = ()  # names saved by forward for backward
    backward_params: tuple[str, ...] = ()  # parameters backward reads by name
    outputs: Mapping[str, Node] = field(default_factory=dict)  # state -> its (T, B, n) array
    values: Mapping[str, Node] = field(default_factory=dict)  # equation -> its (T, B, n) values
    d_params: Mapping[str, Node] = field(default_factory=dict)
    d_x: Node = ""
    d_state: Mapping[str, Node] = field(default_factory=dict)

    @property
    def forward_results(self) -> tuple[Node, ...]:
        """What forward returns: the outputs, the values and the cache."""
        return (*self.outputs.values(), *self.values.values(), *self.cache)

    @property
    def backward_results(self) -> tuple[Node, ...]:
        """What backward returns: the gradients of the parameters, the input and the state."""
        return (*self.d_params.values(), *self.d_state.values(), self.d_x)
