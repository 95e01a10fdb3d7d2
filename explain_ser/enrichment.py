"""Where does attention go? Enrichment of frame categories, top-frame composition, prosody correlation.

Every number here comes with its two references (DESIGN.md: "every statistic that claims attention
prefers X is compared against a null"):

* **uniform weights**: attention spread evenly. With the clip-weighted definition below the uniform
  enrichment is exactly 1 for every category, so "enrichment CI excludes 1" is the uniform test.
* **circular shift**: within each clip the attention track is rotated by a random offset against the
  alignment (phones, words, prosody), independently per clip. This keeps each clip's attention
  distribution *and its temporal autocorrelation* (smooth attention spans several frames; so do
  phones), so a category is called enriched only if attention sits on it more than attention of the
  same shape dropped at a random place. p-values are Monte-Carlo permutation p-values over
  ``n_perm`` draws, two-sided, Benjamini-Hochberg adjusted within each head's table.

Enrichment of category ``c`` (a set of frames) for one weight column::

    A_i(c) = sum of the clip-normalised weights of clip i that fall in c       (attention share)
    F_i(c) = (frames of clip i in c) / (frames of clip i)                      (frame share)
    enrichment(c) = sum_i A_i(c) / sum_i F_i(c)

so every clip counts once whatever its length; > 1 means attention prefers c. Confidence intervals
resample clips, or speakers (cluster bootstrap) when ``cluster="speaker"``.

All circular shifts of a clip are computed at once with an FFT (circular cross-correlation of the
weight track with the category indicators), so the null costs one FFT per clip plus indexing.

>>> frames = _toy_frames()
>>> tab = enrichment(frames, columns=["att_mean"], families=("phone_class",), n_perm=200, n_boot=200)
>>> tab.set_index("category").loc["vowel", "enrichment"].round(2)
np.float64(1.9)
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from explain_ser import stats
from explain_ser.coverage import attach_meta, clip_keys, head_name

DEFAULT_N_PERM = 1000
TOP_FRACTION = 0.15  # Leygue et al.'s "top 15 % of frames"
QUANTILES = 4  # clip-relative quartiles of F0 and intensity
HYPER_Z = 1.0  # a numeric `hyper` column is a z-score; >= this counts as hyperarticulated
FAMILIES = ("phone_class", "phone", "stress", "vocalization", "voicing", "f0", "intensity", "hyper")


# ---------------------------------------------------------------------------------------------
# categories


def _text(col: pd.Series) -> pd.Series:
    """A label column as plain strings, missing -> ''."""
    return col.astype(object).where(col.notna(), "").astype(str).str.strip()


def _clip_quantile_bins(frames: pd.DataFrame, column: str, q: int, valid: pd.Series) -> pd.Series:
    """Quantile bin 1..q of ``column`` within each clip, over ``valid`` frames only (0 elsewhere)."""
    v = pd.to_numeric(frames[column], errors="coerce").where(valid)
    pct = v.groupby([frames[k] for k in clip_keys(frames)], sort=False, dropna=False).rank(pct=True, method="average")
    return np.ceil(pct * q).clip(1, q).fillna(0).astype(int)


def categories(
    frames: pd.DataFrame,
    families=FAMILIES,
    min_frames: int = 20,
    hyper_z: float = HYPER_Z,
    quantiles: int = QUANTILES,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Frame categories of a FrameTable as a boolean matrix aligned with ``frames`` rows.

    Returns ``(labels, X)``: ``labels`` has one row per category (``family``, ``category``) and
    ``X[row, k]`` says whether frame ``row`` belongs to category ``k``. Families (those whose columns
    are missing are skipped):

    * ``phone_class``: each value of ``phone_class`` (vowel, stop, ..., silence, spoken-noise);
    * ``phone``: each phone, ARPAbet stress digits stripped (``AA1 -> AA``);
    * ``stress``: ``stressed vowel`` (stress 1 or 2, primary or secondary) and ``unstressed vowel``
      (stress 0); ``stress`` may be numeric, boolean, or read from the phone's stress digit;
    * ``vocalization``: each tag, plus ``any vocalization``;
    * ``voicing``: ``voiced`` and ``unvoiced``;
    * ``f0`` and ``intensity``: clip-relative quantile bins ``f0 Q1`` (lowest) .. ``f0 Q4`` over the
      clip's voiced / finite frames, so that a high-pitched speaker does not fill the top bin;
    * ``hyper``: ``hyperarticulated`` phones (non-silence), a boolean flag or a z-score >= ``hyper_z``.

    Categories with fewer than ``min_frames`` frames in the whole table are dropped.
    """
    labels, cols = [], []

    def add(family: str, name: str, mask) -> None:
        m = np.asarray(mask, dtype=bool)
        if m.sum() >= min_frames:
            labels.append((family, name))
            cols.append(m)

    cols_present = set(frames.columns)
    pclass = _text(frames["phone_class"]).str.lower() if "phone_class" in cols_present else None
    phone_raw = _text(frames["phone"]) if "phone" in cols_present else None
    for fam in families:
        if fam == "phone_class" and pclass is not None:
            for v in sorted(set(pclass) - {""}):
                add(fam, v, pclass == v)
        elif fam == "phone" and phone_raw is not None:
            ph = phone_raw.str.replace(r"\d+$", "", regex=True)
            for v in sorted(set(ph) - {""}):
                add(fam, v, ph == v)
        elif fam == "stress" and pclass is not None:
            stress = _stress_levels(frames, phone_raw)
            if stress is not None:
                vowel = (pclass == "vowel").to_numpy()
                add(fam, "stressed vowel", vowel & (stress >= 1))
                add(fam, "unstressed vowel", vowel & (stress == 0))
        elif fam == "vocalization" and "vocalization" in cols_present:
            voc = _text(frames["vocalization"]).str.lower()
            for v in sorted(set(voc) - {""}):
                add(fam, v, voc == v)
            add(fam, "any vocalization", voc != "")
        elif fam == "voicing" and "voiced" in cols_present:
            voiced = frames["voiced"].astype(object).fillna(False).astype(bool).to_numpy()
            add(fam, "voiced", voiced)
            add(fam, "unvoiced", ~voiced)
        elif fam in ("f0", "intensity") and fam in cols_present:
            vals = pd.to_numeric(frames[fam], errors="coerce")
            valid = vals.notna() & np.isfinite(vals)
            if fam == "f0":
                valid &= vals > 0
                if "voiced" in cols_present:
                    valid &= frames["voiced"].astype(object).fillna(False).astype(bool)
            bins = _clip_quantile_bins(frames, fam, quantiles, valid).to_numpy()
            for b in range(1, quantiles + 1):
                tag = " (low)" if b == 1 else " (high)" if b == quantiles else ""
                add(fam, f"{fam} Q{b}{tag}", bins == b)
        elif fam == "hyper" and "hyper" in cols_present:
            h = frames["hyper"]
            if h.dtype == bool or h.dtype == object and set(h.dropna().unique()) <= {True, False}:
                flag = h.astype(object).fillna(False).astype(bool).to_numpy()
            else:
                flag = (pd.to_numeric(h, errors="coerce") >= hyper_z).fillna(False).to_numpy()
            if pclass is not None:
                flag = flag & ~pclass.isin(["", "silence", "spoken-noise"]).to_numpy()
            add(fam, "hyperarticulated", flag)
    lab = pd.DataFrame(labels, columns=["family", "category"])
    x = np.stack(cols, 1) if cols else np.zeros((len(frames), 0), dtype=bool)
    return lab, x


def _stress_levels(frames: pd.DataFrame, phone_raw: pd.Series | None) -> np.ndarray | None:
    """Stress per frame as float (0, 1, 2; NaN unknown) from ``stress`` or the phone's stress digit."""
    if "stress" in frames.columns:
        s = frames["stress"]
        if s.dtype == bool:
            return s.astype(float).to_numpy()
        return pd.to_numeric(s.astype(object).replace({True: 1, False: 0}), errors="coerce").to_numpy(dtype=float)
    if phone_raw is not None and phone_raw.str.contains(r"\d$", regex=True).any():
        return pd.to_numeric(phone_raw.str.extract(r"(\d)$")[0], errors="coerce").to_numpy(dtype=float)
    return None


# ---------------------------------------------------------------------------------------------
# per-clip machinery


def _clips(frames: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Frames sorted by clip and frame; the clip index; start offsets of each clip (len n_clips + 1)."""
    keys = clip_keys(frames)
    order = keys + (["frame"] if "frame" in frames.columns else [])
    f = frames.sort_values(order, kind="stable").reset_index(drop=True)
    codes = f.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()
    if len(codes) and (np.diff(codes) < 0).any():
        raise AssertionError("clip rows are not contiguous after sorting")
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(codes)) + 1, [len(f)]]) if len(f) else np.array([0])
    index = f.loc[bounds[:-1], keys].reset_index(drop=True)
    return f, index, bounds


def _normalised_tracks(f: pd.DataFrame, columns: list[str], bounds: np.ndarray) -> np.ndarray:
    """Weight columns (abs for attr_*), NaN -> 0, normalised to sum 1 within each clip: ``[n_frames, J]``."""
    w = f[columns].to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    for j, c in enumerate(columns):
        if c.startswith("attr_"):
            w[:, j] = np.abs(w[:, j])
    w = np.nan_to_num(w, nan=0.0)
    if (w < 0).any():
        raise ValueError("attention weights must be non-negative")
    sums = np.add.reduceat(w, bounds[:-1], axis=0) if len(w) else np.zeros((0, len(columns)))
    lengths = np.diff(bounds)
    with np.errstate(invalid="ignore", divide="ignore"):
        return w / np.repeat(sums, lengths, axis=0)


def _top_indicator(w: np.ndarray, bounds: np.ndarray, fraction: float) -> np.ndarray:
    """1 on the top ``max(1, round(fraction * T))`` frames of each clip and column (ties: earlier frame)."""
    out = np.zeros_like(w)
    for a, b in zip(bounds[:-1], bounds[1:]):
        t = b - a
        n_top = max(1, int(round(fraction * t)))
        order = np.argsort(-w[a:b], axis=0, kind="stable")[:n_top]
        np.put_along_axis(out[a:b], order, 1.0, axis=0)
    return out


def _shift_table(tracks: np.ndarray, x: np.ndarray) -> np.ndarray:
    """All circular shifts at once: ``C[s, j, k] = sum_t tracks[(t - s) mod T, j] * x[t, k]``."""
    t = tracks.shape[0]
    # float64 on purpose: NumPy >= 2 transforms float32 in complex64, and the top-frame tracks are 0/1, so their
    # shifted sums are integers whose ties with the observed sum must not be decided by float32 rounding
    ft = np.fft.rfft(tracks.astype(np.float64), axis=0)
    fx = np.fft.rfft(x.astype(np.float64), axis=0)
    return np.fft.irfft(np.conj(ft)[:, :, None] * fx[:, None, :], n=t, axis=0)


def _shift_null(
    tracks: np.ndarray, x: np.ndarray, bounds: np.ndarray, n_perm: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Per-clip observed sums ``[n_clips, J, K]`` and their circular-shift null totals ``[n_perm, J, K]``.

    Each permutation draws one offset per clip, uniformly over the clip's T rotations (the rotation
    group, so the observed alignment is one of the equally likely draws).
    """
    n_clips = len(bounds) - 1
    obs = np.zeros((n_clips, tracks.shape[1], x.shape[1]))
    null = np.zeros((n_perm, tracks.shape[1], x.shape[1]))
    for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        c = _shift_table(tracks[a:b], x[a:b])
        obs[i] = c[0]
        null += c[rng.integers(0, b - a, size=n_perm)]
    return obs, null


# ---------------------------------------------------------------------------------------------
# public statistics


def enrichment(
    frames: pd.DataFrame,
    columns: list[str] | None = None,
    clip_meta: pd.DataFrame | None = None,
    families=FAMILIES,
    cluster: str | None = None,
    top_fraction: float = TOP_FRACTION,
    min_frames: int = 20,
    n_perm: int = DEFAULT_N_PERM,
    n_boot: int = stats.DEFAULT_N_BOOT,
    ci: float = stats.DEFAULT_CI,
    seed: int = stats.DEFAULT_SEED,
    composition: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Attention enrichment per frame category with circular-shift null, bootstrap CI and BH-FDR.

    ``columns``: weight columns (default ``att_mean``). ``cluster``: a clip_meta column (``"speaker"``)
    to resample as clusters; needs ``clip_meta``. One row per head and category:

    ``head, family, category, n_frames, n_clips`` (clips containing it), ``frame_share`` and
    ``attention_share`` (means over clips), ``enrichment``, ``ci_low, ci_high``, ``uniform`` (= 1),
    ``null_mean, null_low, null_high`` (shift-null enrichment and its central ``ci`` interval), ``p``
    (two-sided), ``q`` (BH within the head), ``mark`` (``*`` q<.05, ``**`` <.01, ``***`` <.001) and the
    provenance ``n_perm, n_boot, resample, seed``.

    With ``composition=True`` also returns the composition of the top ``top_fraction`` frames of each
    clip (see :func:`_composition_table` columns: ``top_share``, ``frame_share``, ``lift``, null, p, q).
    Both tables share the same shifts (one seed, recorded).
    """
    columns = list(columns or ["att_mean"])
    f, index, bounds = _clips(frames)
    labels, x = categories(f, families=families, min_frames=min_frames)
    w = _normalised_tracks(f, columns, bounds)
    top = _top_indicator(w, bounds, top_fraction)
    tracks = np.concatenate([w, top], 1)  # J = 2 * len(columns)
    rng = np.random.default_rng(seed)
    obs, null = _shift_null(tracks, x, bounds, n_perm, rng)
    lengths = np.diff(bounds).astype(np.float64)
    counts = np.add.reduceat(x.astype(np.float64), bounds[:-1], axis=0) if len(x) else np.zeros((0, x.shape[1]))
    fshare = counts / lengths[:, None]  # F_i(c)  [clips, K]
    clusters = _cluster_labels(index, clip_meta, cluster)
    n_clip_with = (counts > 0).sum(0)
    alpha = (1.0 - ci) / 2.0
    prov = {"n_perm": n_perm, "n_boot": n_boot, "resample": cluster or "clip", "seed": seed}

    enr_parts, comp_parts = [], []
    h = len(columns)
    for j, col in enumerate(columns):
        a = obs[:, j, :]  # A_i(c)
        with np.errstate(invalid="ignore", divide="ignore"):
            den = fshare.sum(0)
            est = a.sum(0) / den
            null_e = null[:, j, :] / den
        _, lo, hi = stats.bootstrap_ratio_ci(a, fshare, clusters=clusters, n_boot=n_boot, ci=ci, seed=seed)
        p = stats.permutation_pvalue(est, null_e, "two-sided")
        q = stats.benjamini_hochberg(p)
        enr_parts.append(labels.assign(
            head=head_name(col), n_frames=counts.sum(0).astype(int), n_clips=n_clip_with,
            frame_share=fshare.mean(0), attention_share=a.mean(0), enrichment=est, ci_low=lo, ci_high=hi,
            uniform=1.0, null_mean=null_e.mean(0), null_low=np.quantile(null_e, alpha, axis=0),
            null_high=np.quantile(null_e, 1 - alpha, axis=0), p=p, q=q, mark=stats.significance_marks(q), **prov))
        if composition:
            comp_parts.append(_composition_table(
                labels, col, obs[:, h + j, :], null[:, h + j, :], counts, lengths, bounds, top_fraction,
                clusters, n_boot, ci, seed, prov))
    first = ["head", "family", "category"]
    enr = pd.concat(enr_parts, ignore_index=True) if enr_parts else pd.DataFrame(columns=first)
    enr = enr[first + [c for c in enr.columns if c not in first]]
    if composition:
        return enr, pd.concat(comp_parts, ignore_index=True)
    return enr


def _composition_table(labels, col, top_in, null_top, counts, lengths, bounds, fraction, clusters,
                       n_boot, ci, seed, prov) -> pd.DataFrame:
    """Composition of the top frames: share of top frames in each category against its frame share.

    Pooled over frames: ``top_share = top frames in c / all top frames``, ``frame_share = frames in c /
    all frames``, ``lift = top_share / frame_share`` (1 under uniform or shifted attention on average).
    """
    n_top = np.array([max(1, int(round(fraction * t))) for t in lengths])
    base = counts.sum(0) / lengths.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        share = top_in.sum(0) / n_top.sum()
        lift = share / base
        null_lift = null_top / n_top.sum() / base
        # CI: resample clips with the top-frame fraction n_top / T held at its corpus value (it is 0.15 up
        # to rounding in every clip), which makes the lift a plain ratio of sums
        _, lo, hi = stats.bootstrap_ratio_ci(
            top_in * lengths.sum() / n_top.sum(), counts, clusters=clusters, n_boot=n_boot, ci=ci, seed=seed)
    alpha = (1.0 - ci) / 2.0
    p = stats.permutation_pvalue(lift, null_lift, "two-sided")
    q = stats.benjamini_hochberg(p)
    out = labels.assign(
        head=head_name(col), top_fraction=fraction, top_share=share, frame_share=base, lift=lift,
        ci_low=lo, ci_high=hi, null_low=np.quantile(null_lift, alpha, axis=0),
        null_high=np.quantile(null_lift, 1 - alpha, axis=0), p=p, q=q, mark=stats.significance_marks(q), **prov)
    first = ["head", "family", "category"]
    return out[first + [c for c in out.columns if c not in first]]


def _cluster_labels(index: pd.DataFrame, clip_meta: pd.DataFrame | None, cluster: str | None):
    if cluster is None:
        return None
    if clip_meta is None or cluster not in clip_meta.columns:
        raise ValueError(f"cluster bootstrap by {cluster!r} needs that column in clip_meta")
    lab = attach_meta(index, clip_meta[[c for c in clip_meta.columns if c in clip_keys(index) or c == cluster]])
    if lab[cluster].isna().any():
        raise ValueError(f"some clips have no {cluster!r} in clip_meta")
    return lab[cluster].to_numpy()


def prosody_correlation(
    frames: pd.DataFrame,
    columns: list[str] | None = None,
    tracks=("f0", "intensity", "hnr"),
    clip_meta: pd.DataFrame | None = None,
    cluster: str | None = None,
    min_frames: int = 10,
    n_perm: int = DEFAULT_N_PERM,
    n_boot: int = stats.DEFAULT_N_BOOT,
    ci: float = stats.DEFAULT_CI,
    seed: int = stats.DEFAULT_SEED,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Spearman correlation of attention with prosody tracks, per clip, aggregated with a shift null.

    Per clip: Spearman rho between the weight column and the track over the frames where the track is
    finite (F0: voiced frames), if at least ``min_frames`` of them and neither is constant. Corpus
    statistic: the mean rho over clips, with a bootstrap CI (clips or ``cluster``) and a two-sided
    p-value against the circular-shift null (each clip's attention rotated independently; rho is
    recomputed for every rotation, then ``n_perm`` draws of one rotation per clip are averaged).

    Returns ``(summary, per_clip)``. ``summary``: ``head, track, n_clips, mean_rho, ci_low, ci_high,
    null_low, null_high, p, q`` (BH over all rows), ``mark`` and provenance. ``per_clip``: clip keys,
    ``head, track, n_frames, rho``.
    """
    from scipy.stats import rankdata

    columns = list(columns or ["att_mean"])
    tracks = [t for t in tracks if t in frames.columns]
    f, index, bounds = _clips(frames)
    w = _normalised_tracks(f, columns, bounds)
    rng = np.random.default_rng(seed)
    clusters_all = _cluster_labels(index, clip_meta, cluster)
    alpha = (1.0 - ci) / 2.0
    summary, per_clip = [], []
    for tr in tracks:
        vals = pd.to_numeric(f[tr], errors="coerce").to_numpy(dtype=np.float64)
        valid_all = np.isfinite(vals)
        if tr == "f0":
            valid_all &= vals > 0
            if "voiced" in f.columns:
                valid_all &= f["voiced"].astype(object).fillna(False).astype(bool).to_numpy()
        for j, col in enumerate(columns):
            rhos, alls, nvalid = [], [], []
            for a, b in zip(bounds[:-1], bounds[1:]):
                valid = valid_all[a:b]
                n = int(valid.sum())
                nvalid.append(n)
                if n < min_frames:
                    rhos.append(np.nan)
                    alls.append(None)
                    continue
                t = b - a
                rt = rankdata(vals[a:b][valid])
                rt = (rt - rt.mean()) / (rt.std() or np.nan)
                shift_idx = (np.arange(t)[None, :] - np.arange(t)[:, None]) % t  # [s, t] -> source frame
                ws = w[a:b, j][shift_idx][:, valid]
                rw = _ordinal_ranks(ws)  # continuous weights: ties are rare, broken by position
                sd = rw.std(1, keepdims=True)
                with np.errstate(invalid="ignore", divide="ignore"):
                    rw = (rw - rw.mean(1, keepdims=True)) / np.where(sd > 0, sd, np.nan)
                    r_all = (rw * rt[None, :]).mean(1)
                rhos.append(r_all[0])
                alls.append(r_all)
            rhos = np.array(rhos)
            ok = np.isfinite(rhos)
            per_clip.append(index.assign(head=head_name(col), track=tr, n_frames=nvalid, rho=rhos))
            if not ok.any():
                continue
            null = np.zeros(n_perm)
            for i in np.flatnonzero(ok):
                r_all = np.nan_to_num(alls[i], nan=0.0)
                null += r_all[rng.integers(0, len(r_all), size=n_perm)]
            null /= ok.sum()
            cl = None if clusters_all is None else clusters_all[ok]
            mean, lo, hi = stats.bootstrap_ci(rhos[ok], clusters=cl, n_boot=n_boot, ci=ci, seed=seed)
            summary.append({
                "head": head_name(col), "track": tr, "n_clips": int(ok.sum()), "mean_rho": float(mean),
                "ci_low": float(lo), "ci_high": float(hi), "uniform": 0.0,
                "null_low": float(np.quantile(null, alpha)), "null_high": float(np.quantile(null, 1 - alpha)),
                "p": float(stats.permutation_pvalue(mean, null[:, None], "two-sided")[0]),
                "n_perm": n_perm, "n_boot": n_boot, "resample": cluster or "clip", "seed": seed})
    summ = pd.DataFrame(summary)
    if len(summ):
        summ["q"] = stats.benjamini_hochberg(summ["p"].to_numpy())
        summ["mark"] = stats.significance_marks(summ["q"].to_numpy())
    pc = pd.concat(per_clip, ignore_index=True) if per_clip else pd.DataFrame()
    return summ, attach_meta(pc, clip_meta) if len(pc) else pc


def _ordinal_ranks(a: np.ndarray) -> np.ndarray:
    """Ranks 0..n-1 along the last axis (ties broken by position): two argsorts, no Python loop."""
    ranks = np.empty(a.shape, dtype=np.float64)
    np.put_along_axis(ranks, np.argsort(a, axis=-1, kind="stable"), np.arange(a.shape[-1], dtype=np.float64), -1)
    return ranks


def attribution_agreement(
    frames: pd.DataFrame,
    attention: str = "att_mean",
    attributions: list[str] | None = None,
    top_fraction: float = TOP_FRACTION,
) -> pd.DataFrame:
    """Per clip agreement of attention with each attribution method (``attr_*``, absolute value).

    Columns: clip keys, ``method`` (``ig`` for ``attr_ig``), ``spearman`` (rank correlation over the
    clip's frames) and ``top_overlap`` (Jaccard index of the two top-``top_fraction`` frame sets;
    two independent random sets of a fraction f overlap by about f / (2 - f), 0.08 for f = 0.15).
    """
    from scipy.stats import spearmanr

    attributions = list(attributions or [c for c in frames.columns if c.startswith("attr_")])
    if not attributions:
        return pd.DataFrame(columns=["clip_id", "method", "spearman", "top_overlap"])
    f, index, bounds = _clips(frames)
    w = _normalised_tracks(f, [attention] + attributions, bounds)
    top = _top_indicator(w, bounds, top_fraction).astype(bool)
    rows = []
    for m, name in enumerate(attributions, start=1):
        rho, jac = [], []
        for a, b in zip(bounds[:-1], bounds[1:]):
            x, y = w[a:b, 0], w[a:b, m]
            if b - a < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
                rho.append(np.nan)
            else:
                rho.append(spearmanr(x, y).statistic)
            inter = (top[a:b, 0] & top[a:b, m]).sum()
            union = (top[a:b, 0] | top[a:b, m]).sum()
            jac.append(inter / union if union else np.nan)
        rows.append(index.assign(method=re.sub(r"^attr_", "", name), spearman=rho, top_overlap=jac))
    return pd.concat(rows, ignore_index=True)


def _toy_frames(n_clips: int = 4, t: int = 50) -> pd.DataFrame:
    """A tiny FrameTable for doctests: vowels every other 5-frame block get 1.9x the mean weight."""
    rows = []
    for c in range(n_clips):
        vowel = (np.arange(t) // 5) % 2 == 0
        w = np.where(vowel, 1.9, 0.1)
        w = w / w.sum()
        rows.append(pd.DataFrame({
            "clip_id": f"c{c}", "frame": np.arange(t), "att_mean": w,
            "phone_class": np.where(vowel, "vowel", "stop")}))
    return pd.concat(rows, ignore_index=True)
