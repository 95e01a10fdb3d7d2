"""The MODEL_CARD.md of a vocalization tagger, written from its config alone (``train-tagger`` calls
:func:`model_card`; a card can be re-written from a saved config without retraining): what it is, how events
are read, the cross-validated scores, the confusion of categories, recall and naming by the sound's duration,
the reliability of the confidence and the attribution of the recordings it learned from.

>>> pct(0.8012), pct(float("nan"))
('80.1', '–')
"""

from __future__ import annotations

import numpy as np

__all__ = ["model_card", "metrics_table", "pct"]


def pct(x) -> str:
    return "–" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{100 * x:.1f}"


def metrics_table(m: dict, tags) -> str:
    """Markdown table of per-class event and frame scores (percent)."""
    lines = ["| tag | true events | event P | event R | event F1 | frame F1 | frame AP |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for t in tags:
        e, f = m["per_class"][t], m.get("frames", {}).get(t, {})
        lines.append(f"| {t} | {m.get('n_true', {}).get(t, e['tp'] + e['fn'])} | {pct(e['precision'])} | "
                     f"{pct(e['recall'])} | {pct(e['f1'])} | {pct(f.get('f1'))} | {pct(f.get('ap'))} |")
    mi = m["micro"]
    lines.append(f"| all (micro) | {mi['tp'] + mi['fn']} | {pct(mi['precision'])} | {pct(mi['recall'])} | "
                 f"{pct(mi['f1'])} | | |")
    return "\n".join(lines)


def _decode_text(d: dict) -> str:
    """The card's sentence on how events are read from the frame probabilities."""
    tail = (f"runs joined across gaps ≤ {d['merge_gap']} s, runs shorter than {d['min_dur']} s dropped "
            "(settings chosen on the pooled out-of-fold probabilities).")
    if d.get("mode", "classes") == "spans":
        return (f"vocalization or none first: 1 − P(none) smoothed over {d.get('smooth', 5)} frames, an event where it "
                f"reaches {d['detect']:.2f}, extended while it stays ≥ {d['hold'] * d['detect']:.2f} (hysteresis); "
                f"{tail[0].lower() + tail[1:-1]}; then ONE category per event (a sound is never split into fragments "
                "of different categories): the tag with the largest summed probability over the whole event, unless "
                "a segment head names it (below).")
    thr = ", ".join(f"{t} {v:.2f}" for t, v in d["thresholds"].items())
    return (f"smoothed probabilities over {d.get('smooth', 3)} frames, per-class thresholds ({thr}), each frame to "
            f"the tag furthest above its threshold; {tail}")


def model_card(config: dict, name: str) -> str:
    """MODEL_CARD.md text of a tagger from its config."""
    tr, cv, enc = config["training"], config["cv"], config["encoder"]
    tags = config["tags"]
    n_layers = int(config["model"].get("layers", 2))
    folds = "; ".join(f"fold{f['fold']}: test {', '.join(f['test_groups'])}" for f in cv["folds"])
    kinds = (config.get("sounds") or {}).get("kinds", {})
    parts = [
        f"# {name}", "",
        *([f"Categories learned from **real** recordings: {', '.join(t for t in tags if 'real' in kinds.get(t, '')) or 'none'}; "
           f"from **synthetic** sounds only: {', '.join(t for t in tags if kinds.get(t) == 'synthetic') or 'none'}."
           + (f" Unknown: {', '.join(t for t in tags if kinds.get(t) == 'unknown')}." if 'unknown' in kinds.values() else ""),
           ""] if kinds else []),
        "Frame-level vocalization tagger over frozen Whisper encoder features: per-tap standardisation, "
        + (f"a learned softmax mix of the {enc['n_taps']} taps (weights {config['model']['tap_weights']}), "
           f"Linear({enc['dim']} → {config['model']['hidden']}), " if config["model"].get("mix", "softmax") == "softmax"
           else f"the {enc['n_taps']} taps side by side, Linear({enc['n_taps']} × {enc['dim']} → "
                f"{config['model']['hidden']}), ") +
        f"{n_layers} residual 1-D convolutions over time (kernel 5, dilations "
        f"{', '.join(str(2 ** i) for i in range(n_layers))}: {20 * (1 + sum(4 * 2 ** i for i in range(n_layers)))} ms "
        f"of context), softmax over none + {', '.join(tags)} per 20 ms frame.", "",
        f"- Encoder: `{enc['source']}` (weights sha256 `{enc['weights_hash']}`), window mode `{enc['window']}`; the "
        "tagger reads the same cached taps as the emotion model.",
        f"- Training data: `{tr['events']}`: {tr['n_clips']} clips ({tr['hours']} h), {tr['n_clips_without_events']} "
        f"without events; events {', '.join(f'{t} {n}' for t, n in tr['n_events'].items())}; {tr['n_groups']} "
        f"groups by `{tr['group_by']}`.",
        f"- Training: AdamW lr {tr['lr']}, weight decay {tr['weight_decay']}, batch {tr['batch']}, {tr['epochs']} "
        f"epochs, seed {tr['seed']}; cross-entropy weighted by the square root of each class's rarity.",
        f"- Events: {_decode_text(config['decode'])}",
        *([f"- Category: each event is then named by a segment head, a logistic regression (L2, C = "
           f"{config['model'].get('category_c')}) on every tap's mean and standard deviation over the whole event, "
           "fitted on the true events of the training clips (in cross-validation: of every clip outside the test "
           "fold); the confidence is its probability of that name times the event's mean 1 − P(none)."]
          if config["model"].get("category") == "segments" else []), "",
    ]
    if config.get("note"):
        parts += ["## What it is, and what it is not", "", config["note"], ""]
    parts += [
        f"## Cross-validated scores ({cv['n_folds']} folds, held-out {tr['group_by']}s)", "",
        f"Event-based (DCASE-style, onset collar {int(1000 * cv['collar'])} ms, one-to-one) and frame-level "
        "scores, in %, of every clip by the fold model that never saw its group; each fold's decoding settings "
        "(thresholds) were chosen on validation groups drawn from its training groups.", "",
        metrics_table(cv["event"], tags), "",
        f"With offsets also required (within max(200 ms, 50 % of the event)): micro F1 "
        f"{pct(cv['event_onset_offset']['micro']['f1'])}.", "",
        f"Folds: {folds}. Every out-of-fold detection is in `cv_events.csv`.", "",
        *_card_held_out(config),
        "The shipped model is a retrain on every clip and has no held-out score of its own.", "",
        *_card_sounds(config),
        "## Reproduce", "", "```", config.get("command") or "explain-ser train-tagger EVENTS --out DIR", "```", "",
        f"explain_ser {config.get('explain_ser_version', '')}.", "",
    ]
    return "\n".join(parts)


def _card_held_out(config: dict) -> list[str]:
    """Card lines: confusion of categories on held-out groups, and the reliability of the confidences."""
    cv, tags = config["cv"], config["tags"]
    if "confusion" not in cv:
        return []
    cm = cv["confusion"]
    cols = tags + ["missed"]
    lines = ["### Which category, on held-out groups", "",
             "Each true event against the detection that overlaps it most (`missed`: none does); the last row "
             "counts detections that overlap no true event. Category right = the diagonal over the row.", "",
             "| true \\ detected | " + " | ".join(cols) + " | category right (%) |",
             "| --- | " + " | ".join("---:" for _ in cols) + " | ---: |"]
    for t in tags + ["none"]:
        row = cm[t]
        n = sum(row[c] for c in cols)
        right = f"{100 * row[t] / n:.1f}" if t != "none" and n else ""
        lines.append(f"| {t} | " + " | ".join(str(row[c]) for c in cols) + f" | {right} |")
    lines += _card_by_duration(cv.get("by_duration"), tags)
    rel = cv["reliability"]
    lines += ["", "### Reliability of the confidence", "",
              f"Out-of-fold detections ({rel['detections']}): share right (matched within the collar) per bin of stated "
              "confidence, raw (as decoded: the tag's mean probability over the event, or with a segment head its "
              "probability times the event's mean 1 − P(none)) and calibrated (" + _calibration_text(rel) + "). "
              f"Expected calibration error: raw {pct(rel['ece_raw'])} %, calibrated {pct(rel['ece_calibrated'])} %"
              + _ece_by_length_text(rel) + ".", "",
              "| confidence bin | raw: n | raw: mean conf. | raw: right | calibrated: n | calibrated: mean conf. | calibrated: right |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for a, b in zip(rel["raw"], rel["calibrated"]):
        lines.append(f"| {a['lo']:.1f}–{a['hi']:.1f} | {a['n']} | {pct(a['confidence'])} | {pct(a['precision'])} | "
                     f"{b['n']} | {pct(b['confidence'])} | {pct(b['precision'])} |")
    return lines + [""]


def _calibration_text(rel: dict) -> str:
    if "split" not in rel:  # taggers before the maps per duration
        return ("isotonic map fitted on the other folds' detections, cross-fitted; the shipped model's map is fitted "
                "on all of them")
    return (f"isotonic maps, one for detections under {rel['split']:g} s and one for longer ones (short sounds are "
            "right less often at the same raw confidence), fitted on the other folds' detections, cross-fitted; the "
            "shipped model's maps are fitted on all of them")


def _ece_by_length_text(rel: dict) -> str:
    b = rel.get("by_length")
    if not b:
        return ""
    return "; " + ", ".join(f"{'under' if k == 'short' else 'from'} {rel['split']:g} s ({v['n']} detections): raw "
                            f"{pct(v['ece_raw'])} %, calibrated {pct(v['ece_calibrated'])} %" for k, v in b.items())


def _card_by_duration(rows: list[dict] | None, tags) -> list[str]:
    """Card lines: recall and category right per tag and bin of the true event's duration."""
    if not rows:
        return []
    bins = list(dict.fromkeys((r["lo"], r["hi"]) for r in rows))

    def name(lo, hi):
        return f"< {hi:g} s" if lo == 0 else (f"≥ {lo:g} s" if hi is None else f"{lo:g}–{hi:g} s")

    def cell(r):
        return "–" if not r["n"] else f"{100 * r['found'] / r['n']:.0f} / {100 * r['named'] / r['n']:.0f} ({r['n']})"

    lines = ["", "### By the event's duration", "",
             "Per bin of the true event's duration: event recall (a detection of its tag, onset within the collar) / "
             "category right (the detection overlapping it most names it), in %, of (n) true events. Short sounds "
             "are where the tags are least sure.", "",
             "| tag | " + " | ".join(name(*b) for b in bins) + " |", "| --- | " + " | ".join("---:" for _ in bins) + " |"]
    for t in tags:
        by_bin = {(r["lo"], r["hi"]): r for r in rows if r["tag"] == t}
        lines.append(f"| {t} | " + " | ".join(cell(by_bin[b]) for b in bins) + " |")
    return lines


def _card_sounds(config: dict) -> list[str]:
    att = (config.get("sounds") or {}).get("attribution") or []
    if not att:
        return []
    return ["## Attribution of the recordings it was trained on", "",
            "This tagger is a derivative of these recordings (their licences' attribution, as the events table gives it):",
            "", *[f"- {a}" for a in att], ""]
