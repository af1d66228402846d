"""The labels a model is built for: the dataset's ground-truth heads (baseline-sv) and its DFP signal (full)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

SIGNALS = ("flow", "landmarks")


@dataclass(frozen=True)
class ModelLabels:
    """Heads ``((name, classes), ...)`` of the static and dynamic ground truth, and the DFP signal: the flow grid
    (``flow_grid`` x ``flow_grid`` cells, ``flow_bins`` directions) or the face landmarks (3 distances)."""

    static: tuple[tuple[str, int], ...] = ()
    dynamic: tuple[tuple[str, int], ...] = ()
    dfp_signal: str = "flow"
    flow_grid: int = 3
    flow_bins: int = 8

    def __post_init__(self):
        if self.dfp_signal not in SIGNALS:
            raise ValueError(f"unknown DFP signal {self.dfp_signal!r}; choose one of {', '.join(SIGNALS)}")
        object.__setattr__(self, "static", tuple((str(n), int(k)) for n, k in self.static))
        object.__setattr__(self, "dynamic", tuple((str(n), int(k)) for n, k in self.dynamic))

    @property
    def uses_flow(self) -> bool:
        return self.dfp_signal == "flow"

    @property
    def cells(self) -> int:
        return self.flow_grid**2

    def dfp_outputs(self) -> list[list]:
        """The DFP head's outputs per frame: ``[[name, units], ...]``."""
        if self.uses_flow:
            return [["moving", self.cells], ["direction", self.cells * self.flow_bins]]
        return [["landmarks", 3]]

    def dfp_term_names(self) -> list[str]:
        return ["dfp_moving", "dfp_direction"] if self.uses_flow else ["dfp_landmarks"]

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (lists), as stored in the model's Keras config."""
        out = dataclasses.asdict(self)
        out["static"] = [list(h) for h in self.static]
        out["dynamic"] = [list(h) for h in self.dynamic]
        return out

    @classmethod
    def from_value(cls, value: "ModelLabels | Mapping[str, Any] | None") -> "ModelLabels":
        """A ModelLabels from itself, its :meth:`to_dict` form, or None (no heads, the flow grid)."""
        if isinstance(value, ModelLabels):
            return value
        return cls(**dict(value or {}))
