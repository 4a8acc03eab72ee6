"""Great-circle geometry on a sphere of radius 6371 km (CONTRACT.md).

Points are turned into unit vectors once; the chord between two unit
vectors gives the great-circle distance exactly, via
``d = 2 R asin(chord / 2)``, so a distance threshold becomes a threshold on
the squared chord and the hot path needs no trigonometry per pair.
"""

from __future__ import annotations

import numpy as np

EARTH_RADIUS_KM = 6371.0
DISTANCE_TOLERANCE_KM = 1e-6
"""Distances are compared with a tolerance of one millimetre, so that a
household exactly on a safety radius counts as outside it whatever the
rounding of the formula used."""


def unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """(n, 3) unit vectors of points given in degrees."""
    phi, lam = np.radians(np.asarray(lat, dtype=np.float64)), np.radians(np.asarray(lon, dtype=np.float64))
    cos_phi = np.cos(phi)
    return np.stack([cos_phi * np.cos(lam), cos_phi * np.sin(lam), np.sin(phi)], axis=-1)


def further_than(a: np.ndarray, b: np.ndarray, km: float) -> np.ndarray:
    """(len(a), len(b)) mask: the points (unit vectors) are more than ``km``
    apart, great-circle, with the 1 mm tolerance."""
    limit = 1.0 - chord_squared_of_km(km + DISTANCE_TOLERANCE_KM) / 2.0
    return (np.atleast_2d(a) @ np.atleast_2d(b).T) < limit


def chord_squared_of_km(km: np.ndarray | float) -> np.ndarray:
    """The squared chord of a great-circle distance in km."""
    half = np.clip(np.asarray(km, dtype=np.float64) / (2 * EARTH_RADIUS_KM), 0.0, np.pi / 2)
    return (2.0 * np.sin(half)) ** 2


def km_of_chord_squared(c2: np.ndarray) -> np.ndarray:
    """Great-circle distance in km from a squared chord."""
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.clip(np.sqrt(c2) / 2.0, 0.0, 1.0))


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in km between points in degrees (haversine)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi, dlam = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    h = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlam / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
