"""explain_ser: explainable speech emotion recognition over frozen Whisper features."""

__version__ = "0.1.0"
