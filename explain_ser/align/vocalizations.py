"""Non-linguistic vocalizations: from transcript tokens, and tagged acoustically outside words.

**Transcript tokens** ([laughter], (laughs), <breath>, {LG}, [cough] ...) are parsed by
:func:`explain_ser.align.base.tokenize_transcript` and placed by the aligners on the
pause where they were written; :func:`normalise_token` maps them to the tag set below.

**Acoustic tagging** (:func:`detect_vocalizations`) looks only at stretches outside the
aligned words (each word widened by 30 ms). Per 10 ms frame it measures energy (dB),
voicing (normalised autocorrelation peak at 75-500 Hz) and spectral flatness. Frames
louder than the clip's noise floor + 12 dB (and no more than 45 dB under its speech
level) are active; active runs closer than 150 ms are joined (laughter's "ha-ha" has
silent gaps) and runs shorter than 80 ms are dropped. Each run is then scored:

* **laugh** — energy envelope modulated at 3.5-7 Hz (share of the envelope's 1-15 Hz
  modulation power), at least 2 bursts, partly voiced;
* **cough** — short (< 0.7 s), abrupt onset (> 20 dB rise within 30 ms), loud, noisy
  (high flatness, little voicing), decaying;
* **breath** — soft (>= 12 dB under the speech level), unvoiced, noisy, gradual onset;
* **sigh** — >= 0.4 s, energy falling (> 10 dB/s) from an early peak, not rhythmic;
* **other** — anything active that none of the above explains.

The tag is the best score; ``confidence`` is that score's share of all scores (plus a
fixed 0.3 for "other"), so it is low when two tags compete. The rules are hand-set,
tested on synthetic vocalizations planted into espeak-ng speech (benchmarks/notes/alignment.md):
treat the tags as hypotheses to check on real data, not as ground truth.
"""

from __future__ import annotations

import numpy as np

from explain_ser.align.base import Interval

TAGS = ("laugh", "breath", "sigh", "cough", "other")
RATE = 16_000
HOP = 160  # 10 ms analysis hop
WIN = 400  # 25 ms window
GUARD = 0.03  # s around each word that is never tagged
MERGE_GAP = 0.15  # s
MIN_DUR = 0.08  # s

_TOKEN_MAP = {
    "laugh": "laugh", "lg": "laugh", "chuckle": "laugh", "giggle": "laugh", "lachen": "laugh",
    "breath": "breath", "br": "breath", "inhale": "breath", "exhale": "breath", "breathing": "breath",
    "sigh": "sigh", "cough": "cough", "cg": "cough", "throat": "cough",
}


def normalise_token(token: str) -> str:
    """Map a transcript vocalization token to a tag (``other`` if unknown).

    >>> [normalise_token(t) for t in ["[laughter]", "(laughs)", "<breath>", "{LG}", "[cough]", "[noise]"]]
    ['laugh', 'laugh', 'breath', 'laugh', 'cough', 'other']
    """
    word = token.strip("[](){}<> ").lower()
    for key, tag in _TOKEN_MAP.items():
        if word == key or word.startswith(key):
            return tag
    return "other"


def _frames(x: np.ndarray) -> np.ndarray:
    n = max(0, 1 + (len(x) - WIN) // HOP)
    if n == 0:
        return np.zeros((0, WIN), np.float32)
    idx = np.arange(WIN)[None, :] + HOP * np.arange(n)[:, None]
    return x[idx]


def frame_features(samples: np.ndarray) -> dict[str, np.ndarray]:
    """Energy (dB), voicing (0..1) and spectral flatness (0..1) per 10 ms frame."""
    x = np.asarray(samples, np.float32)
    fr = _frames(x)
    energy = 10 * np.log10(np.mean(fr.astype(np.float64) ** 2, axis=1) + 1e-10)
    win = np.hanning(WIN)
    spec = np.abs(np.fft.rfft(fr * win, n=512, axis=1)) ** 2 + 1e-12
    band = spec[:, 4:257]  # 125 Hz .. 8 kHz
    flat = np.exp(np.mean(np.log(band), axis=1)) / np.mean(band, axis=1)
    # normalised autocorrelation peak in the 75-500 Hz lag range
    c = fr - fr.mean(axis=1, keepdims=True)
    f = np.fft.rfft(c, n=2 * WIN, axis=1)
    ac = np.fft.irfft(np.abs(f) ** 2, axis=1)[:, :WIN]
    lo, hi = RATE // 500, RATE // 75
    voicing = np.max(ac[:, lo:hi], axis=1) / (ac[:, 0] + 1e-10)
    return {"energy": energy, "voicing": np.clip(voicing, 0, 1), "flatness": flat}


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    m = np.concatenate([[False], mask, [False]]).astype(np.int8)
    d = np.diff(m)
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def _sig(x, centre, width):
    return 1.0 / (1.0 + np.exp(-(x - centre) / width))


def _scores(e, v, fl, speech_level, before: float) -> dict[str, float]:
    """Rule scores of one active run; ``before`` is the energy (dB) just before its onset."""
    dur = len(e) * HOP / RATE
    env = 10 ** (e / 20)
    # envelope modulation spectrum (frame rate 100 Hz)
    mod = 0.0
    if len(env) >= 16:
        spec = np.abs(np.fft.rfft(env - env.mean(), n=512)) ** 2
        freqs = np.fft.rfftfreq(512, d=HOP / RATE)
        band = spec[(freqs >= 3.5) & (freqs <= 7)].sum()
        mod = band / (spec[(freqs >= 1) & (freqs <= 15)].sum() + 1e-12)
    peaks = np.flatnonzero((e[1:-1] > e[:-2]) & (e[1:-1] >= e[2:]) & (e[1:-1] > e.max() - 10)) if len(e) > 2 else []
    # bursts = peaks at least 100 ms apart
    bursts, last = 0, -100
    for p in peaks:
        if p - last >= 10:
            bursts, last = bursts + 1, p
    attack = float(np.max(e[:3]) - before)  # dB rise within 30 ms of the onset
    level = np.percentile(e, 90) - speech_level  # dB re speech
    vfrac = float(np.mean(v > 0.6))
    flat = float(np.median(fl))
    t = np.arange(len(e))
    slope = np.polyfit(t * HOP / RATE, e, 1)[0] if len(e) > 3 else 0.0  # dB/s
    peak_pos = np.argmax(e) / max(1, len(e) - 1)
    return {
        "laugh": _sig(mod, 0.35, 0.08) * _sig(bursts, 1.5, 0.3) * _sig(dur, 0.25, 0.05) * _sig(vfrac, 0.15, 0.08),
        "cough": _sig(attack, 20, 4) * _sig(0.7 - dur, 0, 0.08) * _sig(level, -12, 3)
                 * _sig(flat, 0.15, 0.05) * _sig(0.3 - peak_pos, 0, 0.1),
        "breath": _sig(-level, 12, 3) * _sig(0.25 - vfrac, 0, 0.08) * _sig(flat, 0.1, 0.04)
                  * _sig(15 - attack, 0, 4) * _sig(dur, 0.15, 0.04),
        "sigh": _sig(dur, 0.4, 0.06) * _sig(-slope, 10, 4)
                * _sig(0.45 - peak_pos, 0, 0.12) * _sig(0.45 - mod, 0, 0.08),
    }


def detect_vocalizations(samples: np.ndarray, words=(), speech_level: float | None = None) -> list[Interval]:
    """Tag active stretches outside ``words`` as laugh/breath/sigh/cough/other.

    ``words`` are intervals (seconds) never to be tagged; with none, the whole clip
    is searched. Returns intervals with ``label`` = tag and ``confidence`` in (0, 1].
    """
    feats = frame_features(samples)
    e, v, fl = feats["energy"], feats["voicing"], feats["flatness"]
    n = len(e)
    if n == 0:
        return []
    t_centre = (np.arange(n) * HOP + WIN / 2) / RATE
    inside = np.zeros(n, bool)
    for w in words:
        inside |= (t_centre >= w.start - GUARD) & (t_centre < w.end + GUARD)
    floor = max(np.percentile(e, 10), -80.0)
    if speech_level is None:
        speech_level = np.percentile(e[inside], 90) if inside.any() else np.percentile(e, 95)
    active = (e > floor + 12) & (e > speech_level - 45) & ~inside
    # join runs separated by short quiet gaps (laughter's silent half-periods), never across words
    gap = int(MERGE_GAP * RATE / HOP)
    for a, b in _runs(~active):
        if 0 < a and b < n and b - a <= gap and not inside[a:b].any():
            active[a:b] = True
    out = []
    for a, b in _runs(active):
        if (b - a) * HOP / RATE < MIN_DUR:
            continue
        before = float(np.min(e[max(0, a - 3) : a])) if a > 0 else floor
        sc = _scores(e[a:b], v[a:b], fl[a:b], speech_level, before)
        tag = max(sc, key=sc.get)
        total = sum(sc.values()) + 0.3
        best = sc[tag]
        if best < 0.3:
            tag, conf = "other", 0.3 / total
        else:
            conf = best / total
        start = a * HOP / RATE
        end = min(((b - 1) * HOP + WIN) / RATE, len(samples) / RATE)
        out.append(Interval(float(start), float(end), tag, float(round(conf, 3))))
    return out


def merge_with_tokens(tokens: list[Interval], detected: list[Interval]) -> list[Interval]:
    """Transcript tokens win; detections inside a token's pause sharpen the token's bounds.

    Tokens keep their label (e.g. ``[laughter]``) and confidence 1; detections that
    overlap no token are added as they are. Several tokens written into one pause
    ("[laughter] [breath]") first split the pause evenly; when the acoustic tagger finds
    exactly as many events in that pause, the tokens take the events' bounds in order.

    >>> toks = [Interval(1.0, 2.0, "[laughter]"), Interval(2.0, 3.0, "[breath]")]
    >>> found = [Interval(1.1, 2.4, "laugh", 0.8), Interval(2.6, 2.9, "other", 0.6)]
    >>> [(t.label, t.start, t.end) for t in merge_with_tokens(toks, found)]
    [('[laughter]', 1.1, 2.4), ('[breath]', 2.6, 2.9)]
    """
    groups: list[list[Interval]] = []
    for tok in sorted(tokens, key=lambda iv: iv.start):
        if groups and abs(groups[-1][-1].end - tok.start) < 1e-6:
            groups[-1].append(tok)
        else:
            groups.append([tok])
    out, used = [], set()
    for group in groups:
        lo, hi = group[0].start, group[-1].end
        inside = sorted((i for i, d in enumerate(detected) if d.end > lo and d.start < hi),
                        key=lambda i: detected[i].start)
        if len(group) > 1 and len(inside) == len(group):
            for tok, i in zip(group, inside):
                used.add(i)
                out.append(Interval(max(lo, detected[i].start), min(hi, detected[i].end), tok.label, 1.0))
            continue
        for tok in group:
            near = [i for i in inside if detected[i].end > tok.start and detected[i].start < tok.end]
            if near:
                used.update(near)
                s = max(tok.start, min(detected[i].start for i in near))
                e = min(tok.end, max(detected[i].end for i in near))
                out.append(Interval(s, e, tok.label, 1.0))
            else:
                out.append(Interval(tok.start, tok.end, tok.label, 1.0))
    out += [d for i, d in enumerate(detected) if i not in used]
    return sorted(out, key=lambda iv: iv.start)


def evaluate_detection(truth: list[Interval], found: list[Interval], min_overlap: float = 0.3):
    """Precision, recall, tag accuracy and boundary error of detections against planted truth.

    A detection matches a true interval when their intersection is at least
    ``min_overlap`` of the shorter one (one-to-one, greedy by overlap).
    Returns a dict with ``precision``, ``recall``, ``tag_accuracy`` (among matches),
    ``onset_error_ms`` and ``offset_error_ms`` (median absolute, among matches), ``n_true``, ``n_found``.
    """
    pairs = []
    for i, t in enumerate(truth):
        for j, f in enumerate(found):
            inter = min(t.end, f.end) - max(t.start, f.start)
            if inter > 0 and inter >= min_overlap * min(t.duration, f.duration):
                pairs.append((inter, i, j))
    pairs.sort(reverse=True)
    mi, mj, matches = set(), set(), []
    for _, i, j in pairs:
        if i not in mi and j not in mj:
            mi.add(i); mj.add(j); matches.append((truth[i], found[j]))
    nan = float("nan")
    return {
        "n_true": len(truth), "n_found": len(found), "n_matched": len(matches),
        "precision": len(matches) / len(found) if found else nan,
        "recall": len(matches) / len(truth) if truth else nan,
        "tag_accuracy": float(np.mean([t.label == f.label for t, f in matches])) if matches else nan,
        "onset_error_ms": float(np.median([abs(t.start - f.start) for t, f in matches]) * 1000) if matches else nan,
        "offset_error_ms": float(np.median([abs(t.end - f.end) for t, f in matches]) * 1000) if matches else nan,
    }
