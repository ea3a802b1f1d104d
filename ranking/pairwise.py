"""Bradley-Terry strengths with honest intervals (PAIRWISE), and the choice of the next pair to show."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg
from numpy.typing import ArrayLike
from scipy.sparse.csgraph import connected_components
from scipy.special import expit

from ranking import _validate as v
from ranking.scores import Z95

BT_ALPHA = 0.01
"""Ridge penalty α on θ: makes the strengths unique and centred on any comparison graph."""

EXPOSURE_WEIGHT = 3.0
"""How strongly next_pair prefers an under-compared opponent over a closer match."""

EXACT_STDERR_MAX_ITEMS = 2000
"""Connected groups of compared ideas up to this size get the exact inverse-Hessian diagonal."""

_DENSE_STEP_MAX = 64
_GTOL = 1e-10
_MAX_NEWTON = 100


@dataclass(frozen=True)
class BradleyTerryResult:
    """θ per idea (log-strength, centred), its standard error and 95% interval θ ± Z95·stderr."""

    strength: np.ndarray
    stderr: np.ndarray
    low: np.ndarray
    high: np.ndarray
    comparisons: np.ndarray
    exact_stderr: bool


@dataclass(frozen=True)
class _Pairs:
    """Comparisons aggregated per unordered pair (i < j): how often i beat j, and how often j beat i."""

    i: np.ndarray
    j: np.ndarray
    wins_i: np.ndarray
    wins_j: np.ndarray

    @property
    def total(self) -> np.ndarray:
        return np.asarray(self.wins_i + self.wins_j)


def _aggregate(n: int, w: np.ndarray, lo: np.ndarray) -> _Pairs:
    a = np.minimum(w, lo)
    b = np.maximum(w, lo)
    keys, inverse = np.unique(a * n + b, return_inverse=True)
    first_won = (w == a).astype(float)
    wins_i = np.bincount(inverse, weights=first_won, minlength=keys.size)
    totals = np.bincount(inverse, minlength=keys.size).astype(float)
    return _Pairs(keys // n, keys % n, wins_i, totals - wins_i)


def _objective(theta: np.ndarray, pairs: _Pairs, alpha: float) -> float:
    """Σ wins_i·log(1 + e^-d) + wins_j·log(1 + e^d) + α θ·θ, d = θ_i - θ_j, without overflow."""
    d = theta[pairs.i] - theta[pairs.j]
    shared = np.log1p(np.exp(-np.abs(d)))
    # elementwise sums, not `@`: a long BLAS dot wakes OpenBLAS threads, costly on a busy 2-core machine
    nll = np.sum(pairs.total * shared + pairs.wins_i * np.maximum(-d, 0) + pairs.wins_j * np.maximum(d, 0))
    return float(nll + alpha * np.sum(theta * theta))


def _gradient(theta: np.ndarray, pairs: _Pairs, alpha: float, n: int) -> np.ndarray:
    p = expit(theta[pairs.i] - theta[pairs.j])
    r = pairs.total * p - pairs.wins_i
    return 2 * alpha * theta + np.bincount(pairs.i, r, n) - np.bincount(pairs.j, r, n)


def _hessian_parts(theta: np.ndarray, pairs: _Pairs, alpha: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    p = expit(theta[pairs.i] - theta[pairs.j])
    wgt = pairs.total * p * (1 - p)
    return wgt, 2 * alpha + np.bincount(pairs.i, wgt, n) + np.bincount(pairs.j, wgt, n)


def _dense_hessian(theta: np.ndarray, pairs: _Pairs, alpha: float, n: int) -> np.ndarray:
    wgt, diag = _hessian_parts(theta, pairs, alpha, n)
    flat = np.bincount(pairs.i * n + pairs.j, wgt, n * n).reshape(n, n)
    h = -(flat + flat.T)
    h[np.diag_indices(n)] = diag
    return h


def _hessian(theta: np.ndarray, pairs: _Pairs, alpha: float, n: int) -> scipy.sparse.csr_array:
    """2αI + Σ_pairs n_ij p(1-p) (e_i - e_j)(e_i - e_j)ᵀ, sparse."""
    wgt, diag = _hessian_parts(theta, pairs, alpha, n)
    rows = np.concatenate([pairs.i, pairs.j, np.arange(n)])
    cols = np.concatenate([pairs.j, pairs.i, np.arange(n)])
    vals = np.concatenate([-wgt, -wgt, diag])
    return scipy.sparse.csr_array((vals, (rows, cols)), shape=(n, n))


def _newton_step(theta: np.ndarray, pairs: _Pairs, alpha: float, g: np.ndarray) -> np.ndarray:
    """Solve H·step = -g by Jacobi-preconditioned conjugate gradients on the sparse Hessian.

    Sparse matrix-vector products only: no dense n x n array, and no multithreaded LAPACK call per
    iteration (OpenBLAS threads spinning between small calls slow a 2-core machine several-fold).
    Tiny boards, where scipy's call overhead dominates, take a dense single-threaded solve.
    """
    n = theta.size
    if n <= _DENSE_STEP_MAX:
        return np.linalg.solve(_dense_hessian(theta, pairs, alpha, n), -g)
    h = _hessian(theta, pairs, alpha, n)
    precond = scipy.sparse.diags_array(1 / h.diagonal())
    rtol = min(0.1, float(np.sqrt(np.max(np.abs(g)))))
    x, _ = scipy.sparse.linalg.cg(h, -g, rtol=max(rtol, 1e-12), maxiter=20 * n, M=precond)
    return np.asarray(x)


def _fit(n: int, pairs: _Pairs, alpha: float) -> np.ndarray:
    """Newton's method with backtracking on the strictly convex MAP objective."""
    theta = np.zeros(n)
    f = _objective(theta, pairs, alpha)
    for _ in range(_MAX_NEWTON):
        g = _gradient(theta, pairs, alpha, n)
        if np.max(np.abs(g)) < _GTOL:
            break
        step = _newton_step(theta, pairs, alpha, g)
        t = 1.0
        slope = g @ step
        while True:
            candidate = theta + t * step
            f_new = _objective(candidate, pairs, alpha)
            if f_new <= f + 1e-4 * t * slope or t < 1e-10:
                break
            t *= 0.5
        if t < 1e-10:
            break
        theta, f = candidate, f_new
    return theta


def _stderr(h: scipy.sparse.csr_array, alpha: float) -> tuple[np.ndarray, bool]:
    """sqrt(diag(H⁻¹)), exactly per connected group of up to EXACT_STDERR_MAX_ITEMS ideas.

    Larger groups use diag(H⁻¹) ≈ 1/(2α·m) + 1/D_i + Σ_j A_ij² / (D_i² D_j), where H = D - A on the
    group and m its size: the prior's variance of the group mean, plus the first two terms of the
    Neumann series of the rest (tested against the exact inverse in tests/ranking/test_pairwise.py).
    """
    n = h.shape[0]
    var = np.empty(n)
    n_groups, labels = connected_components(h, directed=False)
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(n_groups + 1))
    exact = True
    for g in range(n_groups):
        members = order[bounds[g] : bounds[g + 1]]
        sub = h[members][:, members]
        if members.size <= EXACT_STDERR_MAX_ITEMS:
            var[members] = _exact_inverse_diagonal(sub.toarray())
        else:
            exact = False
            var[members] = _approx_inverse_diagonal(scipy.sparse.csr_array(sub), alpha)
    return np.sqrt(var), exact


def _exact_inverse_diagonal(h: np.ndarray) -> np.ndarray:
    inv_chol = scipy.linalg.lapack.dtrtri(np.linalg.cholesky(h), lower=1)[0]
    return np.asarray(np.einsum("ij,ij->j", inv_chol, inv_chol))


def _approx_inverse_diagonal(h: scipy.sparse.csr_array, alpha: float) -> np.ndarray:
    d = h.diagonal()
    off = h.copy()
    off.setdiag(0)
    off.eliminate_zeros()
    second = (off.multiply(off)) @ (1 / d)
    return np.asarray(1 / (2 * alpha * d.size) + 1 / d + second / (d * d))


def bradley_terry(n_items: int, winners: ArrayLike, losers: ArrayLike, alpha: float = BT_ALPHA) -> BradleyTerryResult:
    """MAP Bradley-Terry strengths: θ minimises Σ log(1 + exp(-(θ_w - θ_l))) + α Σ θ².

    Same optimum as `choix.opt_pairwise(n_items, data, alpha)`. stderr = sqrt(diag(H⁻¹)) at θ, H the
    Hessian of that objective; interval θ ± Z95·stderr. A never-compared idea has θ = 0 and the widest
    interval, stderr = 1/sqrt(2α).
    """
    n = v.n_items(n_items)
    w = v.ids("winners", winners, n)
    lo = v.ids("losers", losers, n, like=w)
    if np.any(w == lo):
        raise ValueError("losers: an idea cannot be compared with itself (winners[i] == losers[i])")
    alpha = v.positive("alpha", alpha)
    counts = (np.bincount(w, minlength=n) + np.bincount(lo, minlength=n)).astype(np.int64)
    strength = np.zeros(n)
    stderr = np.full(n, 1 / np.sqrt(2 * alpha))
    exact = True
    compared = np.flatnonzero(counts)
    if compared.size:
        local = np.full(n, -1, dtype=np.int64)
        local[compared] = np.arange(compared.size)
        m = compared.size
        pairs = _aggregate(m, local[w], local[lo])
        theta = _fit(m, pairs, alpha)
        strength[compared] = theta
        if m <= EXACT_STDERR_MAX_ITEMS:
            stderr[compared] = np.sqrt(_exact_inverse_diagonal(_dense_hessian(theta, pairs, alpha, m)))
        else:
            stderr[compared], exact = _stderr(_hessian(theta, pairs, alpha, m), alpha)
    return BradleyTerryResult(
        strength=strength,
        stderr=stderr,
        low=strength - Z95 * stderr,
        high=strength + Z95 * stderr,
        comparisons=counts,
        exact_stderr=exact,
    )


def next_pair(
    strength: ArrayLike,
    stderr: ArrayLike,
    comparisons: ArrayLike,
    rng: np.random.Generator | int | None = None,
    exclude: Iterable[int] = (),
) -> tuple[int, int]:
    """The next two ideas to compare: fair exposure first, then an opponent whose result is uncertain.

    The first idea is drawn among the least-compared eligible ideas, so a new idea is shown in every
    matchup until it has caught up. Its opponent b minimises
    |θ̃_b - θ̃_a| + EXPOSURE_WEIGHT · (c_b - c_min) / (median(c) + 1), with θ̃ = θ + stderr · N(0, 1)
    drawn from `rng` (Thompson sampling): close strengths and wide intervals make a match likely,
    under-compared opponents are preferred, and two voters don't see the same stream.
    """
    theta = v.finite("strength", strength)
    if theta.ndim != 1:
        raise ValueError("strength must be a sequence, one value per idea")
    se = v.non_negative("stderr", stderr, like=theta)
    counts = v.counts("comparisons", comparisons, like=theta)
    n = theta.size
    eligible = np.ones(n, dtype=bool)
    excluded = v.ids("exclude", np.fromiter((int(x) for x in exclude), dtype=np.int64), max(n, 1))
    if n and excluded.size:
        eligible[excluded] = False
    pool = np.flatnonzero(eligible)
    if pool.size < 2:
        raise ValueError(f"exclude leaves {pool.size} of {n} ideas: need at least two to compare")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)

    pool_counts = counts[pool]
    fewest = pool_counts.min()
    least = pool[pool_counts == fewest]
    first = int(least[gen.integers(least.size)])

    others = pool[pool != first]
    sampled = theta + se * gen.standard_normal(n)
    exposure = (counts[others] - fewest) / (np.median(pool_counts) + 1)
    score = np.abs(sampled[others] - sampled[first]) + EXPOSURE_WEIGHT * exposure
    second = int(others[np.argmin(score)])
    return (first, second) if gen.random() < 0.5 else (second, first)
