"""A trained checkpoint, read once: the one place that parses ``config.json``.

A checkpoint is a directory with ``model.safetensors`` and ``config.json`` (encoder source, weights hash,
window mode, input rule, taps, pooler and hyper-parameters, labels, training data and its language,
folds, seeds, metrics). :class:`Checkpoint` resolves a shipped name or a directory, reads the config
once and holds what every caller needs: the loaded model, labels, the encoder it was trained on, the
input rule (:mod:`explain_ser.inputs`) and the training data's language(s). Explainer, evaluate, train's
publishing step, the analyses and the explorer all go through it; :meth:`Checkpoint.from_model` wraps a
model that lives only in memory (a fold model) so that it is explained by the same path.

>>> ck = Checkpoint.load("ravdess-tiny.en")                    # doctest: +SKIP
>>> ck.labels[:2], ck.language, ck.encoder_source, ck.window   # doctest: +SKIP
(['angry', 'calm'], 'en', 'tiny.en', 'trim')
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError
from .inputs import InputRule
from .jsonio import dumps

__all__ = ["Checkpoint", "CHECKPOINT_DIR", "FORMAT", "available_checkpoints", "resolve_checkpoint",
           "read_config", "check_encoder", "save_checkpoint"]

CHECKPOINT_DIR = Path(__file__).parent / "checkpoints"
FORMAT = "explain_ser.checkpoint/1"

# Language of each corpus reader's speech (explain_ser.corpora), for configs written before the
# training language was recorded.
CORPUS_LANGUAGES = {"ravdess": "en", "cremad": "en", "crema-d": "en", "tess": "en", "iemocap": "en",
                    "emodb": "de", "shemo": "fa"}


def shipped_names(root: Path) -> list[str]:
    """Names of the directories under ``root`` that hold a ``config.json`` (what explain_ser ships there)."""
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "config.json").is_file())


def resolve_dir(name_or_path, root: Path, what: str = "checkpoint") -> Path:
    """A directory with ``config.json``: given as a path (or its config.json / model.safetensors), or the name
    of one shipped under ``root``; one-line InputError listing the shipped names otherwise."""
    p = Path(os.path.expanduser(str(name_or_path)))
    if p.is_file() and p.name in ("config.json", "model.safetensors"):
        p = p.parent
    if p.is_dir() and (p / "config.json").is_file():
        return p
    if (root / str(name_or_path) / "config.json").is_file():
        return root / str(name_or_path)
    names = ", ".join(shipped_names(root)) or "none"
    raise InputError(name_or_path, f"no such {what} (a directory with config.json, or one of: {names})")


def available_checkpoints() -> list[str]:
    """Names of the checkpoints shipped with explain_ser."""
    return shipped_names(CHECKPOINT_DIR)


def resolve_checkpoint(name_or_path) -> Path:
    """Directory of a checkpoint given its shipped name, its directory or its config.json/safetensors path."""
    return resolve_dir(name_or_path, CHECKPOINT_DIR, "checkpoint")


def read_config(name_or_path) -> dict:
    """The parsed ``config.json`` of a checkpoint (name or directory); one-line InputError when unreadable."""
    return read_json_config(resolve_checkpoint(name_or_path), FORMAT, "checkpoint")


def read_json_config(directory: Path, fmt: str, what: str) -> dict:
    """``directory/config.json`` parsed and checked to be of format ``fmt`` (a checkpoint's, a tagger's);
    one-line InputError naming the file otherwise."""
    f = Path(directory) / "config.json"
    try:
        config = json.loads(f.read_text())
    except (OSError, ValueError) as e:
        raise InputError(f, f"unreadable {what} config ({e})") from None
    if not isinstance(config, dict) or config.get("format") != fmt:
        got = config.get("format") if isinstance(config, dict) else type(config).__name__
        raise InputError(f, f"unknown {what} format {got!r} (want {fmt})")
    return config


def check_encoder(config: dict, encoder, where="checkpoint") -> None:
    """Raise InputError if ``encoder`` (an Encoder or a dict like config['encoder']) does not fit."""
    want = config["encoder"]
    get = (lambda k: encoder.get(k)) if isinstance(encoder, dict) else (lambda k: getattr(encoder, k, None))
    if get("dim") is not None and int(get("dim")) != int(want["dim"]):
        raise InputError(where, f"trained on {want['source']} features of dim {want['dim']}, "
                                f"but the encoder {get('source')} gives dim {get('dim')}")
    if get("n_taps") is not None and want.get("n_taps") is not None and int(get("n_taps")) != int(want["n_taps"]):
        raise InputError(where, f"trained on an encoder with {want['n_taps']} taps ({want['source']}), "
                                f"this one has {get('n_taps')} ({get('source')})")
    h = get("weights_hash")
    if h not in (None, "in-memory") and want.get("weights_hash") and h != want["weights_hash"]:
        raise InputError(where, f"trained on {want['source']} weights {want['weights_hash'][:12]}, "
                                f"but the encoder {get('source')} has weights {h[:12]}")
    if get("window") is not None and want.get("window") and get("window") != want["window"]:
        raise InputError(where, f"trained on window mode {want['window']!r} features, the encoder uses "
                                f"{get('window')!r} (not interchangeable)")


def save_checkpoint(model, directory, encoder: dict, **info) -> Path:
    """Write ``model.safetensors`` + ``config.json`` into ``directory`` (atomically); returns the directory.

    ``encoder`` is {"source", "weights_hash", "dim", "n_taps", "window"[, "input"]}; ``info`` adds
    JSON-serialisable sections (training data and its language, folds, seeds, metrics ...).
    """
    from safetensors.torch import save_file

    from . import __version__
    from .atomic import write_path, write_text

    for key in ("source", "weights_hash", "dim", "window"):
        assert key in encoder, f"encoder description lacks {key!r}"
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().float().contiguous() for k, v in model.state_dict().items()}
    write_path(d / "model.safetensors", lambda tmp: save_file(state, str(tmp), metadata={"format": FORMAT}),
               suffix=".safetensors")
    config = {"format": FORMAT, "explain_ser_version": __version__, "encoder": dict(encoder),
              "model": model.config(), **info}
    write_text(d / "config.json", dumps(config, strict=True) + "\n")
    return d


def _languages(config: dict) -> list[str]:
    """Training languages, main corpus first: recorded ones, else the known language of each corpus."""
    t = config.get("training") if isinstance(config.get("training"), dict) else {}
    out: list[str] = []
    if isinstance(config.get("language"), str):
        out.append(config["language"])
    for part in [t] + [x for x in (t.get("extra") or []) if isinstance(x, dict)]:
        lang = part.get("language") or CORPUS_LANGUAGES.get(str(part.get("corpus", "")).lower())
        if lang and lang not in out:
            out.append(str(lang))
    return out


@dataclass
class Checkpoint:
    """A checkpoint's config (read once) and its loaded model (eval mode)."""

    name: str
    config: dict
    model: object  # SERModel or EnsembleModel
    directory: Path | None = None
    info: dict = field(default_factory=dict)

    @classmethod
    def load(cls, name_or_path, encoder=None) -> "Checkpoint":
        """Resolve, read and load a checkpoint; with ``encoder``, refuse one that does not match
        (dim, taps, weights hash, window mode) in one line."""
        from safetensors.torch import load_file

        from .network import EnsembleModel, SERModel

        d = resolve_checkpoint(name_or_path)
        config = read_config(d)
        if encoder is not None:
            check_encoder(config, encoder, where=f"checkpoint {name_or_path}")
        kwargs = dict(config["model"])
        n_members = int(kwargs.pop("members", 1) or 1)
        model = SERModel(**kwargs) if n_members == 1 else EnsembleModel([SERModel(**kwargs) for _ in range(n_members)])
        try:
            state = load_file(str(d / "model.safetensors"))
        except Exception as e:  # safetensors raises its own error types
            raise InputError(d / "model.safetensors", f"unreadable weights ({e})") from None
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise InputError(d / "model.safetensors", f"weights do not match the config (missing {missing}, "
                                                       f"unexpected {unexpected})")
        model.checkpoint = config
        model.checkpoint_dir = d
        return cls(name=str(name_or_path), config=config, model=model.eval(), directory=d)

    @classmethod
    def from_model(cls, model, encoder, name: str = "in-memory", language: str | None = None,
                   input_rule: InputRule | None = None, training: dict | None = None) -> "Checkpoint":
        """Wrap an in-memory model (e.g. a fold model) trained on ``encoder``'s features.

        ``encoder``: an :class:`explain_ser.encoder.Encoder` or its description dict.
        """
        if isinstance(encoder, dict):
            enc = dict(encoder)
        else:
            enc = {"source": encoder.source, "weights_hash": getattr(encoder, "weights_hash", "in-memory"),
                   "dim": encoder.dim, "n_taps": encoder.n_taps, "window": encoder.window}
        rule = input_rule if input_rule is not None else InputRule.from_config(enc.get("input"))
        if not rule.is_identity:
            enc["input"] = rule.to_config()
        config = {"format": FORMAT, "encoder": enc, "model": model.config(), "training": dict(training or {})}
        if language:
            config["training"]["language"] = language
        return cls(name=name, config=config, model=model.eval())

    # -- what the config says ------------------------------------------------------------------

    @property
    def labels(self) -> list[str]:
        return list(self.model.labels)

    @property
    def encoder_config(self) -> dict:
        return dict(self.config["encoder"])

    @property
    def encoder_source(self) -> str:
        return str(self.config["encoder"]["source"])

    @property
    def window(self) -> str:
        return str(self.config["encoder"].get("window", "trim"))

    @property
    def weights_hash(self) -> str | None:
        return self.config["encoder"].get("weights_hash")

    @property
    def input_rule(self) -> InputRule:
        """How clips are prepared before the encoder (:mod:`explain_ser.inputs`)."""
        return InputRule.from_config(self.config["encoder"].get("input"))

    @property
    def taps(self) -> list[int]:
        return list(self.config["model"].get("taps", []))

    @property
    def pooler(self) -> str | None:
        return self.config["model"].get("pooler")

    @property
    def languages(self) -> list[str]:
        """The training data's language(s), main corpus first (may be empty when unknown)."""
        return _languages(self.config)

    @property
    def language(self) -> str | None:
        """The main training corpus' language, or None when the checkpoint does not say."""
        langs = self.languages
        return langs[0] if langs else None

    @property
    def training(self) -> dict:
        t = self.config.get("training")
        return t if isinstance(t, dict) else {}

    @property
    def trained_speakers(self) -> set[str]:
        return set(map(str, self.training.get("speakers", []) or []))

    def encoder(self, model=None):
        """The :class:`explain_ser.encoder.Encoder` this checkpoint was trained on (loads Whisper)."""
        from .encoder import Encoder

        enc = Encoder(self.encoder_source, window=self.window, model=model, input_rule=self.input_rule)
        check_encoder(self.config, enc, where=f"checkpoint {self.name}")
        return enc
