"""The parts of scikit-learn's estimator API the encoders need, without
importing scikit-learn at start-up (it costs about a second, and a quick
``matcher rank`` must not pay it). ``sklearn.base.clone`` and pipelines work
with these encoders because they follow the same conventions: ``__init__``
only stores its keyword-only arguments, learned state ends in ``_``."""

from __future__ import annotations

import datetime as dt
import inspect

import numpy as np


class EncoderMixin:
    """``get_params``/``set_params``/``fit``/``transform`` in scikit-learn's
    style, for encoders parametrised by ``as_of`` and ``agencies``.

    Subclasses set ``FEATURES`` (their output columns) and ``REQUIRED``
    (columns ``fit`` insists on), and implement ``encode(X)`` returning an
    object with a ``matrix``.
    """

    FEATURES: tuple[str, ...] = ()
    REQUIRED: tuple[str, ...] = ("agency_id",)

    def __init__(self, *, as_of: dt.date, agencies: tuple[str, ...] | None = None):
        self.as_of = as_of
        self.agencies = agencies

    def fit(self, X, y=None):
        """Check the parameters and learn the agency vocabulary (the given
        one, or the agencies in ``X`` sorted)."""
        if not isinstance(self.as_of, dt.date):
            raise ValueError(f"as_of must be a datetime.date; got as_of={self.as_of!r} instead")
        for column in self.REQUIRED:
            if column not in X.columns:
                raise ValueError(f"{type(self).__name__} needs column {column!r}")
        self.agencies_ = tuple(self.agencies) if self.agencies is not None else tuple(sorted(X["agency_id"].unique()))
        self.feature_names_out_ = np.array(self.FEATURES, dtype=object)
        return self

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        self._check_fitted()
        return self.feature_names_out_.copy()

    def transform(self, X) -> np.ndarray:
        return self.encode(X).matrix

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [p.name for p in signature.parameters.values() if p.name != "self" and p.kind == p.KEYWORD_ONLY]

    def get_params(self, deep: bool = True) -> dict:
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        valid = set(self._param_names())
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for {type(self).__name__}; "
                                 f"expected one of {sorted(valid)}")
            setattr(self, name, value)
        return self

    def fit_transform(self, X, y=None):
        return self.fit(X, y).transform(X)

    def _check_fitted(self) -> None:
        if not hasattr(self, "feature_names_out_"):
            raise RuntimeError(f"this {type(self).__name__} is not fitted yet; call fit first")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


class NamedColumns:
    """Column access by feature name for the encoded-array dataclasses,
    which hold ``matrix`` (column-major) and ``names``."""

    matrix: np.ndarray
    names: tuple[str, ...]

    def column(self, name: str) -> np.ndarray:
        """A contiguous float column (the matrix is column-major)."""
        return self.matrix[:, self.names.index(name)]

    def int_column(self, name: str) -> np.ndarray:
        return self.column(name).astype(np.int64)

    def bool_column(self, name: str) -> np.ndarray:
        return self.column(name) != 0
