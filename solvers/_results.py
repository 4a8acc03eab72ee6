"""Frozen configuration and result types shared by every solver."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SolverConfig:
    """Settings passed to every solver.

    Parameters
    ----------
    time_limit_s : float
        Time limit in seconds for solvers that can stop early (CP-SAT). It
        is converted to the solver's deterministic time at a measured rate
        (see ``solvers/constrained.py``), so a search stopped by the limit
        stops at the same point on every run and gives the same answer. The
        exact graph algorithms ignore it: they always run to optimality.
    workers : int
        Search workers for CP-SAT. One (the default) is deterministic; more
        run CP-SAT's parallel portfolio.
    seed : int
        Random seed for CP-SAT.
    relative_gap : float
        Budgeted assignments (budgets without fixed links or conflicts)
        stop as soon as the solution found is certified within this
        fraction of the optimum: ``(bound - objective) / bound <=
        relative_gap``, with status ``"feasible"``, the bound and the gap
        reported (and ``stopped`` false). 0 searches until the optimum is
        proven (or the time limit). The default, 0.1%, is what a regional
        exchange with a budget for every agency needs to answer in seconds.
    """

    time_limit_s: float = 60.0
    workers: int = 1
    seed: int = 0
    relative_gap: float = 0.001

    def __post_init__(self) -> None:
        if not self.time_limit_s > 0:
            raise ValueError(f"time_limit_s must be > 0, got {self.time_limit_s!r}")
        if not 0 <= self.relative_gap < 1:
            raise ValueError(f"relative_gap must be in [0, 1), got {self.relative_gap!r}")
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers!r}")


@dataclass(frozen=True)
class MatchingResult:
    """Outcome of an exact (b-)matching.

    Attributes
    ----------
    pairs : numpy.ndarray
        int64 array of shape (k, 2): row, column of each chosen arc, sorted
        by row then column.
    objective : int or float
        Sum of the chosen weights (int when the weights are integers).
    status : str
        Always ``"optimal"``: the exact solvers either prove optimality or
        raise.
    wall_time_s : float
        Time spent inside the call, validation included.
    backend : str
        Name of the algorithm that produced the answer.
    """

    pairs: np.ndarray
    objective: int | float
    status: str
    wall_time_s: float
    backend: str


@dataclass(frozen=True)
class AssignmentResult:
    """Outcome of an assignment with side constraints (CP-SAT).

    Attributes
    ----------
    arcs : numpy.ndarray
        int64 indices (into the input arc arrays) of the chosen arcs, sorted.
    pairs : numpy.ndarray
        int64 array of shape (k, 2): row, column of each chosen arc, in the
        order of ``arcs``.
    objective : int or float
        Sum of the original weights of the chosen arcs (0 when none).
    bound : int or float
        Best proven upper bound on the objective, in the weights' units.
        ``nan`` when the solver proved nothing (status ``"unknown"`` or
        ``"infeasible"``).
    gap : float
        ``(bound - objective) / max(1, |bound|)``; 0 when optimal, ``nan``
        when there is no solution.
    status : str
        ``"optimal"``, ``"feasible"`` (time limit hit with a solution),
        ``"infeasible"`` (proved: ``arcs`` is empty) or ``"unknown"`` (time
        limit hit with no solution: ``arcs`` is empty).
    wall_time_s : float
        Time spent inside the call.
    stopped : bool
        Whether the time limit ended the search before it proved optimality
        or infeasibility (status ``"feasible"`` or ``"unknown"``).
    deterministic_time : float
        CP-SAT's deterministic time spent (0 when CP-SAT did not run); with
        one worker the same for the same input, unlike ``wall_time_s``.
    """

    arcs: np.ndarray
    pairs: np.ndarray
    objective: int | float
    bound: int | float
    gap: float
    status: str
    wall_time_s: float
    stopped: bool = False
    deterministic_time: float = 0.0
