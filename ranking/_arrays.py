"""Strings and ragged lists as flat numeric arrays, so an index is stored without pickle; every check names its key."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike


def names(arrays: Mapping[str, ArrayLike], required: Sequence[str], optional: Sequence[str] = ()) -> None:
    """Exactly the expected arrays: a missing or an unknown one is refused by name."""
    for name in required:
        if name not in arrays:
            raise ValueError(f"{name} is missing")
    for name in sorted(set(arrays) - set(required) - set(optional)):
        raise ValueError(f"{name} is not an expected array")


def pack_strings(strings: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The UTF-8 bytes of every string end to end, and n + 1 offsets into them."""
    encoded = [s.encode() for s in strings]
    ptr = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=ptr[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), narrow(ptr, int(ptr[-1]))


def narrow(values: np.ndarray, largest: int) -> np.ndarray:
    """Non-negative integers up to `largest` in the smallest unsigned type that holds them (uint8 to uint64)."""
    return values.astype(np.min_scalar_type(largest))


def unpack_strings(arrays: Mapping[str, ArrayLike], name: str) -> list[str]:
    """Inverse of pack_strings, stored as `name` (bytes) and `name_ptr` (offsets)."""
    data = integers(arrays, name)
    if data.dtype != np.uint8:
        raise ValueError(f"{name} must be UTF-8 bytes (uint8), got dtype {data.dtype}")
    ptr = offsets(arrays, f"{name}_ptr", data.size)
    raw = data.tobytes()
    try:
        return [raw[a:b].decode() for a, b in itertools.pairwise(ptr.tolist())]
    except UnicodeDecodeError:
        raise ValueError(f"{name} is not valid UTF-8") from None


def features(arrays: Mapping[str, ArrayLike], name: str, n: int) -> tuple[dict[str, int], np.ndarray, np.ndarray]:
    """A vocabulary (`name_vocab`, id = position), then the feature ids of n texts (`name_ids`, `name_ptr`)."""
    vocab = unpack_strings(arrays, f"{name}_vocab")
    lookup = {feature: i for i, feature in enumerate(vocab)}
    if len(lookup) != len(vocab):
        raise ValueError(f"{name}_vocab holds a feature twice")
    found = ids(arrays, f"{name}_ids", len(vocab))
    return lookup, found, offsets(arrays, f"{name}_ptr", found.size, count=n)


def integers(arrays: Mapping[str, ArrayLike], name: str) -> np.ndarray:
    """A one-dimensional integer array (booleans, floats and objects refused)."""
    arr = np.asarray(arrays[name])
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integers, got dtype {arr.dtype}")
    return arr


def offsets(arrays: Mapping[str, ArrayLike], name: str, total: int, count: int | None = None) -> np.ndarray:
    """Row boundaries into a flat array of `total` entries: 0 first, `total` last, never decreasing."""
    ptr = integers(arrays, name).astype(np.int64)
    if count is not None and ptr.size != count + 1:
        raise ValueError(f"{name} must have {count + 1} offsets, got {ptr.size}")
    if ptr.size == 0 or ptr[0] != 0 or ptr[-1] != total or np.any(np.diff(ptr) < 0):
        raise ValueError(f"{name} must rise from 0 to {total}")
    return ptr


def ids(arrays: Mapping[str, ArrayLike], name: str, n: int) -> np.ndarray:
    """Integers in 0..n-1, as int64."""
    arr = integers(arrays, name).astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        raise ValueError(f"{name} has ids outside 0..{n - 1}")
    return arr


def unit_rows(arrays: Mapping[str, ArrayLike], name: str, n: int) -> np.ndarray:
    """Rows of unit length, one per text, kept bit for bit (no re-normalising on load)."""
    arr = np.asarray(arrays[name])
    if arr.dtype.kind != "f" or arr.ndim != 2 or arr.shape[0] != n:
        raise ValueError(f"{name} must be floats of shape ({n}, dim), got {arr.dtype} {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    if arr.size and not np.allclose(np.linalg.norm(arr, axis=1), 1.0, rtol=0, atol=1e-6):
        raise ValueError(f"{name} must have rows of unit length")
    return arr.astype(float)


def fractions(arrays: Mapping[str, ArrayLike], name: str, n: int) -> np.ndarray:
    """Floats in [0, 1], one per text, kept bit for bit."""
    arr = np.asarray(arrays[name])
    if arr.dtype.kind != "f" or arr.shape != (n,):
        raise ValueError(f"{name} must be floats of shape ({n},), got {arr.dtype} {arr.shape}")
    if not np.all(np.isfinite(arr)) or (arr.size and (arr.min() < 0 or arr.max() > 1)):
        raise ValueError(f"{name} must be numbers in [0, 1]")
    return arr.astype(float)
