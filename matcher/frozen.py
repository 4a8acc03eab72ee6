"""Read-only containers for values that must not change once checked:
option values, weights and query answers."""

from __future__ import annotations


class FrozenDict(dict):
    """A dict that refuses changes. It is still a dict, so it prints as
    JSON like one and reads like one; copies and pickles stay frozen."""

    def _refuse(self, *args, **kwargs):
        raise TypeError("this value is read-only")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _refuse  # type: ignore

    def __reduce__(self):
        return (FrozenDict, (dict(self),))

    def __hash__(self):  # type: ignore[override]
        return hash(tuple(sorted(self.items())))
