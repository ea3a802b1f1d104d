"""Input checks shared by the ranking functions: every error names the argument at fault."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike


def _as_float(name: str, value: ArrayLike) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from None
    if arr.ndim > 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return arr


def same_length(name: str, arr: np.ndarray, like: np.ndarray | None) -> None:
    if like is not None and arr.shape != like.shape:
        raise ValueError(f"{name} has length {arr.size}, expected {like.size} like the other arguments")


def finite(name: str, value: ArrayLike, like: np.ndarray | None = None) -> np.ndarray:
    """A one-dimensional (or scalar) float array without NaN or inf."""
    arr = _as_float(name, value)
    same_length(name, arr, like)
    return arr


def counts(name: str, value: ArrayLike, like: np.ndarray | None = None) -> np.ndarray:
    """Non-negative whole numbers, as floats."""
    raw = np.asarray(value)
    if raw.dtype.kind in "iu" and raw.ndim <= 1:
        same_length(name, raw, like)
        if raw.size and raw.min() < 0:
            raise ValueError(f"{name} must not be negative")
        return raw.astype(float)
    arr = finite(name, value, like)
    if np.any(arr < 0):
        raise ValueError(f"{name} must not be negative")
    if np.any(arr != np.floor(arr)):
        raise ValueError(f"{name} must be whole numbers")
    return arr


def non_negative(name: str, value: ArrayLike, like: np.ndarray | None = None) -> np.ndarray:
    arr = finite(name, value, like)
    if np.any(arr < 0):
        raise ValueError(f"{name} must not be negative")
    return arr


def n_items(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise ValueError(f"n_items must be a non-negative integer, got {value!r}")
    return int(value)


def ids(name: str, value: ArrayLike, n: int, like: np.ndarray | None = None) -> np.ndarray:
    """Item ids, integers in 0..n-1, as int64."""
    arr = np.asarray(value)
    if arr.ndim != 1:
        if arr.ndim == 0:
            raise ValueError(f"{name} must be a sequence of item ids")
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        arr = arr.astype(np.int64)
    elif arr.dtype.kind in "iu":
        arr = arr.astype(np.int64)
    elif arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.floor(arr)):
            raise ValueError(f"{name} must be integer item ids (no NaN, inf or fractions)")
        arr = arr.astype(np.int64)
    else:
        raise ValueError(f"{name} must be integer item ids, got dtype {arr.dtype}")
    same_length(name, arr, like)
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        raise ValueError(f"{name} has ids outside 0..{n - 1} (n_items={n})")
    return arr


def positive(name: str, value: float) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(out) or out <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return out


def non_negative_scalar(name: str, value: float) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(out) or out < 0:
        raise ValueError(f"{name} must be a non-negative finite number, got {value!r}")
    return out


def finite_scalar(name: str, value: float) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(out):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return out


def texts(name: str, value: Iterable[str]) -> list[str]:
    if isinstance(value, str):
        raise ValueError(f"{name} must be a sequence of strings, not one string")
    out = list(value)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise ValueError(f"{name}[{i}] must be a string, got {type(text).__name__}")
        if not text.strip():
            raise ValueError(f"{name}[{i}] is empty")
    return out


def text(name: str, value: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{name} is empty")
    return value


def unit_rows(name: str, value: ArrayLike | None, n: int) -> np.ndarray | None:
    """Embedding rows, one per text; rows are re-normalised to unit length."""
    if value is None:
        return None
    arr = np.asarray(value, dtype=float)
    if arr.ndim != 2 or arr.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n}, dim), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    norms = np.linalg.norm(arr, axis=1)
    if np.any(norms == 0):
        raise ValueError(f"{name} has an all-zero row")
    return np.asarray(arr / norms[:, None])
