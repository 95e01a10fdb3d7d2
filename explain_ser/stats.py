"""Resampling statistics shared by coverage and enrichment: bootstrap CIs, permutation p-values, FDR.

Everything here is seeded (a ``seed`` argument, default 0, that callers record beside their results)
and vectorised: a bootstrap is one matrix product, never a Python loop over replicates.

Bootstrap of a ratio of sums. Coverage and enrichment statistics are means or ratios of sums over
clips, ``sum_i a_i / sum_i b_i`` (a mean is the case ``b_i = 1``). Resampling *units* with replacement
(clips, or speakers for a cluster bootstrap, each unit carrying the sums of its clips) gives replicate
``b``: ``(M @ A) / (M @ B)`` where ``M[b, u]`` counts how often unit ``u`` was drawn. The interval is
the percentile interval of the replicates. A cluster bootstrap over speakers is the honest choice
whenever clips of one speaker are not independent (they never are in acted corpora).

>>> mean, lo, hi = bootstrap_ci(np.arange(10.0), n_boot=500, seed=1)
>>> float(mean), bool(lo < mean < hi)
(4.5, True)
>>> benjamini_hochberg([0.01, 0.04, 0.03, 0.5]).round(3).tolist()
[0.04, 0.053, 0.053, 0.5]
"""

from __future__ import annotations

import functools
import warnings

import numpy as np

DEFAULT_SEED = 0
DEFAULT_N_BOOT = 2000
DEFAULT_CI = 0.95


def resample_counts(n_units: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """``[n_boot, n_units]`` counts of how often each unit is drawn in ``n_units`` draws with replacement."""
    if n_units < 1:
        raise ValueError("cannot resample zero units")
    return rng.multinomial(n_units, np.full(n_units, 1.0 / n_units), size=n_boot).astype(np.float64)


@functools.lru_cache(maxsize=16)
def seeded_resample_counts(n_units: int, n_boot: int, seed: int) -> np.ndarray:
    """:func:`resample_counts` drawn from a fresh ``default_rng(seed)``, computed once per arguments.

    A report bootstraps a thousand statistics over the same speakers with the same seed, so they all
    share one read-only resampling matrix (identical to drawing it anew each time).
    """
    m = resample_counts(n_units, n_boot, np.random.default_rng(seed))
    m.setflags(write=False)
    return m


def _unit_sums(values: np.ndarray, clusters: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Sum ``values`` (``[n, ...]``) and count rows per cluster; without clusters every row is a unit."""
    if clusters is None:
        return values, np.ones(values.shape[0])
    codes, uniq = _codes(clusters)
    sums = np.zeros((len(uniq),) + values.shape[1:])
    np.add.at(sums, codes, values)
    return sums, np.bincount(codes, minlength=len(uniq)).astype(np.float64)


def _codes(labels) -> tuple[np.ndarray, np.ndarray]:
    arr = np.asarray(labels)
    uniq, codes = np.unique(arr.astype(str), return_inverse=True)
    return codes, uniq


def bootstrap_ratio_ci(
    num: np.ndarray,
    den: np.ndarray,
    clusters=None,
    n_boot: int = DEFAULT_N_BOOT,
    ci: float = DEFAULT_CI,
    seed: int = DEFAULT_SEED,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Point estimate and percentile CI of ``sum(num) / sum(den)`` resampling rows (or clusters of rows).

    ``num`` is ``[n]`` or ``[n, k]`` (k statistics sharing the same resampling, e.g. the points of a
    coverage curve or the categories of an enrichment table); ``den`` is ``[n]`` or ``[n, k]``.
    Returns ``(estimate, low, high)``, each of shape ``[]`` or ``[k]``.

    >>> est, lo, hi = bootstrap_ratio_ci(np.array([1.0, 2, 3]), np.array([1.0, 1, 1]), n_boot=200)
    >>> float(est)
    2.0
    """
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    if den.ndim < num.ndim:
        den = np.broadcast_to(den.reshape(den.shape + (1,) * (num.ndim - den.ndim)), num.shape)
    assert num.shape == den.shape, f"num {num.shape} and den {den.shape} differ"
    if num.shape[0] == 0:
        nan = np.full(num.shape[1:], np.nan)
        return nan, nan.copy(), nan.copy()
    a, _ = _unit_sums(num, clusters)
    b, _ = _unit_sums(den, clusters)
    with np.errstate(invalid="ignore", divide="ignore"):
        est = a.sum(0) / b.sum(0)
        m = (seeded_resample_counts(a.shape[0], int(n_boot), int(seed)) if seed is not None
             else resample_counts(a.shape[0], n_boot, np.random.default_rng()))
        flat_a, flat_b = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
        reps = (m @ flat_a) / (m @ flat_b)
    alpha = (1.0 - ci) / 2.0
    with warnings.catch_warnings():  # an all-NaN column (a category no clip has) gives NaN, silently
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanquantile(reps, [alpha, 1.0 - alpha], axis=0)
    shape = num.shape[1:]
    return est, np.asarray(lo).reshape(shape), np.asarray(hi).reshape(shape)


def bootstrap_ci(
    values: np.ndarray,
    clusters=None,
    n_boot: int = DEFAULT_N_BOOT,
    ci: float = DEFAULT_CI,
    seed: int = DEFAULT_SEED,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean of ``values`` (``[n]`` or ``[n, k]``) and its percentile bootstrap CI.

    With ``clusters`` (one label per row, e.g. the speaker) whole clusters are resampled and the
    replicate is the mean over all rows drawn. Rows with NaN are dropped (per column for ``[n, k]``
    only when the whole row is NaN; use 1-D calls for ragged data).
    """
    v = np.asarray(values, dtype=np.float64)
    keep = ~np.isnan(v).all(axis=tuple(range(1, v.ndim))) if v.ndim > 1 else ~np.isnan(v)
    v = v[keep]
    cl = None if clusters is None else np.asarray(clusters)[keep]
    return bootstrap_ratio_ci(v, np.ones(v.shape[0]), clusters=cl, n_boot=n_boot, ci=ci, seed=seed)


def permutation_pvalue(observed, null: np.ndarray, alternative: str = "two-sided") -> np.ndarray:
    """Monte-Carlo p-value of ``observed`` (``[k]``) against null draws ``[n_perm, k]``.

    ``p = (1 + #{null at least as extreme}) / (1 + n_perm)``, which never returns 0 and is valid
    (uniform or conservative) when the observed value is exchangeable with the null draws.
    ``alternative``: ``"greater"``, ``"less"`` or ``"two-sided"`` (twice the smaller tail, capped at 1).

    >>> permutation_pvalue(5.0, np.arange(99.0)[:, None] / 10, "greater").tolist()
    [0.5]
    """
    obs = np.atleast_1d(np.asarray(observed, dtype=np.float64))
    null = np.asarray(null, dtype=np.float64)
    if null.ndim == 1:
        null = null[:, None]
    n = null.shape[0]
    tol = 1e-12 * np.maximum(1.0, np.abs(obs))  # equal within rounding counts as "as extreme"
    greater = (1.0 + (null >= obs - tol).sum(0)) / (1.0 + n)
    less = (1.0 + (null <= obs + tol).sum(0)) / (1.0 + n)
    if alternative == "greater":
        p = greater
    elif alternative == "less":
        p = less
    elif alternative == "two-sided":
        p = np.minimum(1.0, 2.0 * np.minimum(greater, less))
    else:
        raise ValueError(f"alternative must be greater, less or two-sided, not {alternative!r}")
    return np.where(np.isnan(obs), np.nan, p)


def benjamini_hochberg(pvalues) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values); NaN entries stay NaN and are not counted.

    Same numbers as ``scipy.stats.false_discovery_control(p, method="bh")`` (scipy >= 1.11), kept
    here so that NaN handling is explicit. Reject at FDR level ``alpha`` where ``q <= alpha``.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m == 0:
        return out
    pv = p[ok]
    order = np.argsort(pv)
    ranked = pv[order] * m / np.arange(1, m + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    res = np.empty(m)
    res[order] = np.minimum(q, 1.0)
    out[ok] = res
    return out


def significance_marks(q) -> np.ndarray:
    """``***`` for q < 0.001, ``**`` < 0.01, ``*`` < 0.05, else empty (NaN -> empty).

    >>> significance_marks([0.0005, 0.02, 0.3, float("nan")]).tolist()
    ['***', '*', '', '']
    """
    q = np.asarray(q, dtype=np.float64)
    marks = np.full(q.shape, "", dtype=object)
    with np.errstate(invalid="ignore"):
        marks[q < 0.05] = "*"
        marks[q < 0.01] = "**"
        marks[q < 0.001] = "***"
    return marks.astype(str)
