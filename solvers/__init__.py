"""Array-level exact and constrained solvers for proposing links.

Every function takes numpy arrays of allowed arcs (row, column, weight) and
a frozen :class:`SolverConfig`, and returns a frozen result. OR-Tools is
imported only when a solver runs, so importing this package is cheap.
"""

from ._results import AssignmentResult, MatchingResult, SolverConfig
from .b_matching import b_matching
from .constrained import constrained_assignment
from ._side_constraints import Contact, contact_conflicts
from .matching import BACKENDS, max_weight_matching
from ._checks import check_matching, matching_problems

__all__ = [
    "AssignmentResult",
    "BACKENDS",
    "Contact",
    "MatchingResult",
    "SolverConfig",
    "b_matching",
    "check_matching",
    "constrained_assignment",
    "contact_conflicts",
    "matching_problems",
    "max_weight_matching",
]
