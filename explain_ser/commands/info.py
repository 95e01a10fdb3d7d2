"""``explain-ser info``: what this installation has (weights sources, model, cache, checkpoints)."""

from __future__ import annotations


def add_parser(sub):
    p = sub.add_parser("info", help="show Whisper sources, model dimensions, caches and shipped checkpoints")
    p.add_argument("--model", default="tiny.en", help="Whisper source to describe (name, .pt file or CTranslate2 dir)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from .. import __version__
    from ..weights import available_sources, cache_dir, install_hint, load_whisper, resolve_source, source_hash

    src = resolve_source(args.model)
    model = load_whisper(args.model)
    info = {
        "explain_ser": __version__,
        "model": args.model,
        "source_kind": src.kind,
        "weights_sha256": source_hash(src),
        "dims": vars(model.dims),
        "encoder_taps": model.dims.n_audio_layer + 1,
        "multilingual": bool(model.is_multilingual),
        "cache_dir": str(cache_dir()),
        "bundled_sources": {k: ("installed" if v else install_hint(k)) for k, v in available_sources().items()},
    }
    from ..model import available_checkpoints

    info["checkpoints"] = available_checkpoints()
    if args.json:
        from ..jsonio import dumps

        print(dumps(info))
    else:
        for k, v in info.items():
            print(f"{k:>16}: {v}")
    return 0
