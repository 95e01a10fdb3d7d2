"""Synthesise the example clips shipped in examples/ (run: python examples/make_examples.py).

The clips are made here, by the project, with espeak-ng (speech) and sox (a laugh-like
burst and a breath), so they carry no third-party audio. Each has a .txt transcript.
Non-speech events are written to the transcript as bracketed tokens ([laughter],
[breath]) where they were planted, and their planted times go into examples/README.md.
Requires the Debian packages espeak-ng and sox.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name, text, espeak voice, words per minute, pitch (0-99), amplitude (0-200)
SPEECH = [
    ("calm_statement", "Kids are talking by the door.", "en-us+f3", 140, 50, 100),
    ("excited_question", "Did you really win the whole thing?", "en-us+f3", 185, 75, 160),
]


def sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


def speak(text: str, voice: str, wpm: int, pitch: int, amp: int, out: Path) -> None:
    sh("espeak-ng", "-v", voice, "-s", str(wpm), "-p", str(pitch), "-a", str(amp), "-w", str(out), text)
    sh("sox", str(out), "-r", "16000", "-c", "1", "-b", "16", str(out.with_suffix(".tmp.wav")))
    out.with_suffix(".tmp.wav").replace(out)


def laugh(out: Path) -> None:
    """A laugh-like burst: five 90 ms voiced 'ha' pulses at about 5 Hz (the rhythm of laughter)."""
    with tempfile.TemporaryDirectory() as td:
        pulses = []
        for i in range(5):
            p = Path(td) / f"p{i}.wav"
            # a breathy vowel: a sawtooth at a falling pitch, mixed with noise, 90 ms, with a fast fade
            sh("sox", "-n", "-r", "16000", "-c", "1", "-b", "16", str(p), "synth", "0.09",
               "sawtooth", f"{260 - 12 * i}", "synth", "0.09", "pinknoise", "mix",
               "lowpass", "2500", "fade", "t", "0.01", "0.09", "0.04", "vol", "0.5")
            gap = Path(td) / f"g{i}.wav"
            sh("sox", "-n", "-r", "16000", "-c", "1", "-b", "16", str(gap), "trim", "0", "0.11")
            pulses += [str(p), str(gap)]
        sh("sox", *pulses, str(out))


def breath(out: Path) -> None:
    """An audible in-breath: 400 ms of band-passed noise with a slow rise and fall."""
    sh("sox", "-n", "-r", "16000", "-c", "1", "-b", "16", str(out), "synth", "0.4", "brownnoise",
       "highpass", "300", "lowpass", "3000", "fade", "q", "0.15", "0.4", "0.2", "vol", "0.25")


def silence(seconds: float, out: Path) -> None:
    sh("sox", "-n", "-r", "16000", "-c", "1", "-b", "16", str(out), "trim", "0", str(seconds))


def duration(path: Path) -> float:
    return float(subprocess.run(["soxi", "-D", str(path)], check=True, capture_output=True, text=True).stdout)


def main() -> None:
    for name, text, voice, wpm, pitch, amp in SPEECH:
        speak(text, voice, wpm, pitch, amp, HERE / f"{name}.wav")
        (HERE / f"{name}.txt").write_text(text + "\n")
    # a clip with a planted laugh and breath between two phrases
    with tempfile.TemporaryDirectory() as td:
        t = Path(td)
        speak("Oh no, not again.", "en-us+m3", 140, 30, 110, t / "a.wav")
        speak("I cannot believe it.", "en-us+m3", 160, 55, 130, t / "b.wav")
        laugh(t / "laugh.wav")
        breath(t / "breath.wav")
        silence(0.15, t / "s.wav")
        parts = ["a.wav", "s.wav", "laugh.wav", "s.wav", "breath.wav", "s.wav", "b.wav"]
        sh("sox", *[str(t / p) for p in parts], str(HERE / "laugh_breath.wav"))
        offsets, pos = {}, 0.0
        for p in parts:
            offsets.setdefault(p, pos)
            pos += duration(t / p)
        offsets["laugh_end"] = offsets["laugh.wav"] + duration(t / "laugh.wav")
        offsets["breath.wav"] = offsets["laugh_end"] + duration(t / "s.wav")
        offsets["breath_end"] = offsets["breath.wav"] + duration(t / "breath.wav")
    (HERE / "laugh_breath.txt").write_text("Oh no, not again. [laughter] [breath] I cannot believe it.\n")
    (HERE / "laugh_breath.events.csv").write_text(
        "tag,start,end\n"
        f"laugh,{offsets['laugh.wav']:.3f},{offsets['laugh_end']:.3f}\n"
        f"breath,{offsets['breath.wav']:.3f},{offsets['breath_end']:.3f}\n")
    print("wrote", ", ".join(sorted(p.name for p in HERE.glob("*.wav"))))


if __name__ == "__main__":
    main()
