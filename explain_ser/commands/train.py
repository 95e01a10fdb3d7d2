"""``explain-ser train``: cross-validate a (tap, pooler) model on a manifest and save a checkpoint.

The cross-validation folds are tasks on the Dask engine (``--jobs N``, ``--scheduler``, ``--cluster``;
:mod:`explain_ser.engine`), the same results as in this process (``--jobs 1``, the default); the final model
trains here.
"""

from __future__ import annotations

import sys

from ..inputs import AS_RECORDED, RECOMMENDED, InputRule
from . import command_line

# --input. "loudness" is the gentler rule of issue 28: level set to -23 LUFS, nothing trimmed, so the end of
# the model's input stays where the recording ends instead of where the speech does.
INPUT_RULES = {"as-recorded": AS_RECORDED, "normalized": RECOMMENDED, "loudness": InputRule(loudness=-23.0)}


def add_training_args(p):
    """Options shared by train and sweep."""
    p.add_argument("manifest", help="manifest CSV or corpus directory (needs emotion and speaker columns)")
    p.add_argument("--model", default="tiny.en", help="Whisper source (default: tiny.en)")
    p.add_argument("--window", default="trim", choices=["trim", "full"], help="window mode (default: trim)")
    p.add_argument("--input", default="normalized", choices=list(INPUT_RULES),
                   help="what the encoder is fed: normalized (default) = leading/trailing silence trimmed and "
                        "loudness set to -23 LUFS; loudness = only the level set to -23 LUFS (nothing trimmed); or "
                        "clips as recorded (explain_ser.inputs; recorded in the checkpoint, so explaining feeds the "
                        "encoder the same way)")
    p.add_argument("--cache", default=None, help="feature cache directory (default: user cache)")
    p.add_argument("--folds", default=None, choices=["speakers", "loso", "emobox", "random"],
                   help="fold scheme (default: loso for <= 12 speakers, else leave-k-speakers-out); emobox = "
                        "EmoBox's 6 RAVDESS folds of 4 actors (on the actors the manifest has); "
                        "random is speaker-DEPENDENT and labelled so")
    p.add_argument("--lockbox", default=None, choices=["dev"],
                   help="dev: train and cross-validate on the lockbox's development actors only "
                        "(explain_ser/lockbox.json), leaving its locked actors unseen; every lockbox speaker of "
                        "that part must be in the manifest")
    p.add_argument("--k", type=int, default=None, help="speakers per test fold for --folds speakers (default 3)")
    p.add_argument("--val-speakers", type=int, default=2, help="training speakers held out for early stopping")
    p.add_argument("--epochs", type=int, default=40, help="maximum epochs (default 40)")
    p.add_argument("--patience", type=int, default=8, help="early-stopping patience in epochs (default 8)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=1e-2)
    p.add_argument("--dropout", type=float, default=0.3, help="head dropout (default 0.3)")
    p.add_argument("--input-dropout", type=float, default=0.1, help="dropout on standardised frames (default 0.1)")
    p.add_argument("--hidden", type=int, default=256, help="head hidden units (default 256)")
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--frame-drop", type=float, default=0.0, help="training-time frame dropping probability")
    p.add_argument("--mixup", type=float, default=0.0, metavar="ALPHA",
                   help="mix pooled vectors and targets of clip pairs with Beta(ALPHA, ALPHA) weights (0 = off)")
    p.add_argument("--schedule", default="constant", choices=["constant", "cosine"],
                   help="learning rate over training: constant or cosine decay to 0 (default constant)")
    p.add_argument("--average-last", type=int, default=0, metavar="N",
                   help="with fixed epochs (--val-speakers 0): keep the average of the weights at the end of the "
                        "last N epochs (default 0 = the last weights)")
    p.add_argument("--class-weights", action="store_true", help="inverse-frequency class weights in the loss")
    # -- issue 19 (attention that localises) --
    p.add_argument("--attn-entropy", type=float, default=0.0, metavar="W",
                   help="add W x the mean normalised attention entropy to the loss (0 = off; see explain-ser "
                        "pointing-game)")
    # -- end issue 19 --
    p.add_argument("--speed-perturb", default="", metavar="FACTORS",
                   help="add training copies of every clip played at these speeds, e.g. 0.9,1.1 "
                        "(pitch and tempo change together; test clips stay original; cached like other features)")
    # -- issue 20 (robustness) --
    p.add_argument("--augment", default="", metavar="KINDS",
                   help="add one random training copy per clip and kind: gain (-30..+10 dB), noise (white, 5..30 dB "
                        "SNR), pad (0..2 s of silence or faint noise each side), crop (60..95 %% of the clip), codec (MP3 16..64 or "
                        "Opus 8..32 kbit/s round trip, needs ffmpeg), join (the whole "
                        "clip joined with a neutral utterance of its speaker, either order, label kept), e.g. "
                        "gain,noise,pad,crop; drawn with --seed; test clips stay original; cached like other features")
    # -- end issue 20 --
    p.add_argument("--extra-train", action="append", default=[], metavar="MANIFEST",
                   help="another corpus (manifest or directory) whose clips join the training side of every fold "
                        "and the final model, never the test; emotions are matched by name (anger = angry), "
                        "emotions without a class are left out; repeatable")
    p.add_argument("--extra-map", default=None, metavar="MAP",
                   help="explicit emotion mapping for --extra-train corpora, e.g. boredom=calm")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ensemble", type=int, default=1, metavar="K",
                   help="train K models (seeds seed..seed+K-1) and average their probabilities, in every fold "
                        "and in the saved checkpoint (default 1)")
    p.add_argument("--distill", type=int, default=0, metavar="K",
                   help="train K teachers (seeds seed+1..seed+K) and fit one model of the same kind to their "
                        "averaged soft predictions (default 0 = off); unlike --ensemble the result is one pooler")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads for training (1 is often fastest when other jobs share the cores)")
    p.add_argument("--quiet", action="store_true")


def add_parser(sub):
    from ..engine import add_engine_args

    p = sub.add_parser("train", help="cross-validate a pooler on a corpus and save the checkpoint trained on all of it")
    add_training_args(p)
    p.add_argument("--taps", default="2", help="encoder tap(s): 2, 1,2,3, 1-3 or all (several = learned weighted sum)")
    p.add_argument("--pooler", default="mqmha",
                   help="mean, mhaap, qkv, qkv-tanh, qkv-stats, mqmha or transformer (default mqmha)")
    p.add_argument("--heads", type=int, default=None, help="attention heads (pooler default otherwise)")
    p.add_argument("--queries", type=int, default=None, help="MQMHA queries per head")
    add_attention_args(p)  # issue 19
    p.add_argument("--out", required=False, default=None, help="checkpoint directory to write")
    p.add_argument("--cv-only", action="store_true", help="only cross-validate; write nothing but the report")
    p.add_argument("--final-only", action="store_true",
                   help="skip the cross-validation and only train the model on all clips for --epochs (with "
                        "--val-speakers 0): for a recipe whose CV was run separately, e.g. on the lockbox's dev actors")
    p.add_argument("--save-fold-models", action="store_true",
                   help="also save each fold's model in OUT/folds/<fold>/, to score new conditions held out "
                        "(explain-ser robustness --cv-run OUT); works with --cv-only")  # issue 20
    add_engine_args(p, jobs=1)  # the CV folds are tasks on the engine; the final model trains here
    p.set_defaults(func=run)


# -- issue 19 (attention that localises) --
def add_attention_args(p):
    """Pooler options that shape attention (mhaap, qkv, mqmha); unset ones keep the pooler's defaults."""
    p.add_argument("--score", default=None, choices=["dot", "additive"],
                   help="qkv frame scores: additive v.tanh(Wx) (the default of --pooler qkv) or a dot product with a query "
                        "(the default of qkv-tanh and qkv-stats)")
    p.add_argument("--normalizer", default=None, choices=["softmax", "sparsemax", "entmax15"],
                   help="attention normaliser (default: entmax15 for mhaap and qkv-stats, softmax otherwise); sparsemax and "
                        "entmax15 give many frames exactly 0")
    p.add_argument("--temperature", default=None, choices=["on", "off"], help="learnable score temperature")


def attention_hparams(args, hp: dict) -> dict:
    """``hp`` with the attention options the user set."""
    hp = dict(hp)
    if getattr(args, "score", None) is not None:
        hp["score"] = args.score
    if getattr(args, "normalizer", None) is not None:
        hp["normalizer"] = args.normalizer
    if getattr(args, "temperature", None) is not None:
        hp["temperature"] = args.temperature == "on"
    return hp
# -- end issue 19 --


def common_setup(args, taps_spec=None):
    from ..augment import parse_augment, parse_speeds
    from ..errors import InputError
    from ..labels import parse_label_map
    from ..sweep import default_folds, load_corpus
    from ..train import TrainConfig

    if args.k is not None and args.k < 1:
        raise InputError(f"--k {args.k}", "must be at least 1")
    if args.average_last and args.val_speakers:
        raise InputError(f"--average-last {args.average_last}",
                         "averages fixed-epoch training; use it with --val-speakers 0")
    speeds = parse_speeds(args.speed_perturb)
    augment = parse_augment(args.augment)  # issue 20
    # the settings are checked (TrainConfig.__post_init__) before the corpus is loaded: a bad option fails fast
    config = TrainConfig(epochs=args.epochs, patience=args.patience, batch_size=args.batch_size, lr=args.lr,
                         weight_decay=args.weight_decay, class_weights=args.class_weights,
                         label_smoothing=args.label_smoothing, frame_drop=args.frame_drop, seed=args.seed,
                         speed_perturb=speeds, threads=args.threads, ensemble=args.ensemble, mixup=args.mixup,
                         schedule=args.schedule, average_last=args.average_last, distill=args.distill,
                         augment=augment, attn_entropy=args.attn_entropy)
    # only the model's taps are kept in memory (perturbed copies multiply the size)
    if args.extra_map and not args.extra_train:
        raise InputError(f"--extra-map {args.extra_map}", "maps the emotions of --extra-train corpora; none given")
    corpus = load_corpus(args.manifest, source=args.model, window=args.window, cache=args.cache,
                         progress=not args.quiet, speeds=speeds, taps=taps_spec, extra=args.extra_train,
                         extra_map=parse_label_map(args.extra_map), augment=augment, augment_seed=args.seed,
                         input_rule=INPUT_RULES[args.input], lockbox=getattr(args, "lockbox", None))
    if "speaker" not in corpus.manifest.columns and args.folds != "random":
        raise InputError(args.manifest, "has no speaker column; speaker-independent folds need one "
                                        "(--folds random gives speaker-dependent folds, labelled as such)")
    folds = default_folds(corpus.manifest, args.folds, args.k, seed=args.seed, n_val=args.val_speakers)
    if args.folds == "emobox":
        from ..splits import emobox_coverage

        missing = emobox_coverage(corpus.manifest)["missing"]
        if missing:  # the user must not read these numbers as EmoBox's 24-actor protocol
            print(f"note: EmoBox's RAVDESS folds on the {24 - len(missing)} actors this manifest has (missing actors "
                  f"{', '.join(str(n) for n in sorted(missing))}): folds of "
                  f"{', '.join(str(len(f.test_speakers)) for f in folds)} actors, not EmoBox's 6 x 4",
                  file=sys.stderr)
    head = {"hidden": args.hidden, "dropout": args.dropout, "input_dropout": args.input_dropout}
    return corpus, folds, config, head


def run(args) -> int:
    import json

    from ..engine import check_engine_args, cluster_from_args, jobs_within_memory
    from ..errors import InputError
    from ..metrics import format_mean_std
    from ..sweep import parse_taps, pooler_spec
    from ..publish import train_checkpoint
    from ..train import cv_engine

    check_engine_args(args)
    if not args.out and not args.cv_only:
        raise InputError("--out", "give a checkpoint directory (or --cv-only)")
    if args.final_only and (args.cv_only or args.val_speakers or args.save_fold_models):
        raise InputError("--final-only", "trains one model for a fixed --epochs: use it with --val-speakers 0, "
                                         "without --cv-only or --save-fold-models")
    if args.save_fold_models and not args.out:  # issue 20
        raise InputError("--save-fold-models", "needs --out (the fold models go to OUT/folds/)")
    pooler, hp = pooler_spec(args.pooler)
    if args.heads is not None:
        hp["n_heads"] = args.heads
    if args.queries is not None:
        hp["n_queries"] = args.queries
    hp = attention_hparams(args, hp)  # issue 19
    corpus, folds, config, head = common_setup(args, taps_spec=args.taps)
    taps = parse_taps(args.taps, corpus.encoder["n_taps"])
    jobs_within_memory(args, corpus.data.x.nbytes)  # each worker holds the features
    kw = {"dim": corpus.encoder["dim"], "taps": taps, "n_taps": corpus.encoder["n_taps"], "pooler": pooler,
          "pooler_hparams": hp, **head}
    if folds[0].kind == "random":
        print("note: random folds are speaker-DEPENDENT; their scores overstate accuracy on new speakers",
              file=sys.stderr)
    cmd = command_line("train")
    with cluster_from_args(args, n_items=len(folds)) as client, cv_engine(client):  # one task per fold
        info = train_checkpoint(corpus, folds, kw, config, args.out,
                                final="none" if args.cv_only else "only" if args.final_only else "retrain",
                                name=None, command=cmd, progress=not args.quiet,
                                save_folds=args.save_fold_models)  # issue 20
    if args.final_only:
        return 0
    s = info["metrics"]["cv"]["summary"]
    print(f"{folds[0].kind} CV ({len(folds)} folds): UA {format_mean_std(s, 'ua')}  WA {format_mean_std(s, 'wa')}  "
          f"macro-F1 {format_mean_std(s, 'macro_f1')}")
    if args.cv_only and args.out:
        from pathlib import Path

        from ..atomic import write_text

        write_text(Path(args.out) / "cv.json", json.dumps(info, indent=2, default=str))
    return 0
