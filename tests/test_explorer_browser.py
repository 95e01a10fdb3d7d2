"""The explorer in a real browser: `streamlit run apps/explorer.py` on 127.0.0.1, driven by headless Chromium.

Playwright's Python package drives the Debian ``chromium`` binary (``playwright install`` cannot
download browsers here). Set ``EXPLAIN_SER_SCREENSHOT=1`` to write the screenshot to
``figures/explorer.png`` (the README's); otherwise it goes to the test's temp dir.
"""

from __future__ import annotations

import contextlib
import os
import signal
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from _env import EXAMPLES, ROOT, needs_tiny

CHROMIUM = os.environ.get("EXPLAIN_SER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-quic"]
APP = ROOT / "apps" / "explorer.py"

pytestmark = [
    pytest.mark.browser,
    needs_tiny,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} not installed (apt install chromium)"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {proc.returncode}")
        with contextlib.suppress(OSError):  # not listening yet: poll again
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200 and r.read().strip() == b"ok":
                    return
        time.sleep(0.2)
    raise TimeoutError(f"{url} not healthy after {timeout} s")


def start_app(port: int, log: Path, env: dict, args: list[str] = ()) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none", "--client.toolbarMode", "minimal"] + (["--", *args] if args else [])
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def launch(playwright, user_dir: Path):
    return playwright.chromium.launch_persistent_context(
        str(user_dir), executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS,
        viewport={"width": 1600, "height": 1800}, device_scale_factor=1)


# The page is done when the clip's heading shows, its spectrogram figure is drawn (a heatmap in a
# plotly SVG), nothing is stale and the script is not running.
RENDERED_JS = """(clip) => {
  const h = [...document.querySelectorAll('h3')].some(e => e.innerText.includes('Clip ' + clip));
  const spec = document.querySelector('.st-key-spectrogram .js-plotly-plot .hm, .st-key-spectrogram .js-plotly-plot image');
  const stale = document.querySelector('[data-stale="true"]');
  const running = document.querySelector('[data-testid="stStatusWidget"] button, [data-testid="stSpinner"]');
  return h && !!spec && !stale && !running;
}"""


def wait_rendered(page, clip: str, timeout_s: float = 120.0) -> None:
    page.wait_for_function(RENDERED_JS, arg=clip, timeout=timeout_s * 1000, polling=100)


def select_clip(page, text: str) -> None:
    """Type into the sidebar's searchable clip selector and pick the first match."""
    box = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(has_text="Clip (")
    box.click()
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def predicted(page) -> str:
    m = page.locator('[data-testid="stMetric"]').filter(has_text="Predicted").first
    return m.locator('[data-testid="stMetricValue"]').inner_text().strip()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from test_explorer import make_checkpoint  # same untrained fallback as the AppTest tests

    from explain_ser.model import available_checkpoints

    tmp = tmp_path_factory.mktemp("browser")
    env = dict(os.environ)
    if not available_checkpoints():
        env["EXPLAIN_SER_CHECKPOINTS"] = make_checkpoint(tmp / "untrained-tiny.en")
    port = free_port()
    proc = start_app(port, tmp / "streamlit.log", env)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
        from explain_ser.api import DEFAULT_CHECKPOINT

        shipped = available_checkpoints()
        default = DEFAULT_CHECKPOINT if DEFAULT_CHECKPOINT in shipped else (shipped or [None])[0]
        yield f"http://127.0.0.1:{port}", env.get("EXPLAIN_SER_CHECKPOINTS") or default, tmp
    finally:
        stop(proc)


def test_browser_clip_view(server, tmp_path, tiny_encoder):
    pw = pytest.importorskip("playwright.sync_api")
    url, checkpoint, tmp = server
    shot = ROOT / "figures" / "explorer.png" if os.environ.get("EXPLAIN_SER_SCREENSHOT") else tmp_path / "explorer.png"
    with pw.sync_playwright() as p:
        ctx = launch(p, tmp_path / "chromium-profile")
        try:
            page = ctx.new_page()
            page.goto(url, wait_until="domcontentloaded")
            wait_rendered(page, "calm_statement", 150)
            first = predicted(page)

            select_clip(page, "laugh_breath")
            wait_rendered(page, "laugh_breath", 120)
            shown = predicted(page)
            page.wait_for_timeout(500)  # let plotly finish its transitions before the screenshot
            page.screenshot(path=str(shot), full_page=True)
            assert page.locator('[data-testid="stException"]').count() == 0
            body = page.inner_text("body")
        finally:
            ctx.close()
    # the page shows the model's prediction for that clip (the library, run here, agrees)
    from explain_ser.api import Explainer

    ex = Explainer(checkpoint, encoder=tiny_encoder)
    want = ex.attribute(EXAMPLES / "laugh_breath.wav", methods=(), align=False, prosody=False).predicted
    assert shown == want and want in body
    assert first in ex.labels
    assert "Traceback" not in body and shot.stat().st_size > 50_000
    shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# the corpus view on a report made by `explain-ser report` (issue 18: it crashed under pandas 3)

# two speakers, two clips each: enough for every table and plot of the report, and fast
CLIPS = [("s1", "en-us+f3", "female", "happy", "Did you really win the whole thing?"),
         ("s1", "en-us+f3", "female", "sad", "I lost my keys again today."),
         ("s2", "en-us+m3", "male", "angry", "Stop talking by the door now."),
         ("s2", "en-us+m3", "male", "calm", "Kids are talking by the door.")]


def cli(*args: str) -> list[str]:
    """The installed ``explain-ser`` console script (as a user runs it), else ``python -m explain_ser.cli``."""
    exe = Path(sys.executable).with_name("explain-ser")
    return [str(exe), *args] if exe.is_file() else [sys.executable, "-m", "explain_ser.cli", *args]


@pytest.fixture(scope="module")
def cli_report(tmp_path_factory):
    """(manifest, report dir, checkpoint args): `explain-ser report` over project-made speech."""
    import pandas as pd
    import soundfile as sf
    from _speech import RATE, espeak
    from test_explorer import make_checkpoint

    from explain_ser.model import available_checkpoints

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (make sysdeps)")
    tmp = tmp_path_factory.mktemp("cli_report")
    clips = tmp / "corpus" / "clips"
    clips.mkdir(parents=True)
    rows = []
    for spk, voice, gender, emotion, text in CLIPS:
        name = f"{spk}_{emotion}"
        sf.write(clips / f"{name}.wav", espeak(text, voice), RATE)
        rows.append({"path": f"clips/{name}.wav", "speaker": spk, "gender": gender, "emotion": emotion,
                     "transcript": text})
    manifest = tmp / "corpus" / "manifest.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    ckpt = [] if available_checkpoints() else ["--checkpoint", make_checkpoint(tmp / "untrained-tiny.en")]
    rep = tmp / "report"
    proc = subprocess.run(cli("report", str(manifest), "--out", str(rep), "--n-boot", "50", "--n-perm", "50",
                              "--jobs", "1", "--quiet", *ckpt), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return manifest, rep, ckpt


def start_explore(tmp_path: Path, *args: str):
    """`explain-ser explore ARGS --headless` on a free port, as its own process group, its output in app.log:
    (process, port, url, log)."""
    port, log = free_port(), tmp_path / "app.log"
    proc = subprocess.Popen(cli("explore", *args, "--headless", "--port", str(port)),
                            cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    return proc, port, f"http://127.0.0.1:{port}", log


def stop_group(proc: subprocess.Popen) -> None:
    """Stop a process started with start_new_session and its children (`explain-ser explore` runs streamlit)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# The corpus view is done when the k@0.8 strip has its points, the clip list is drawn and the script is idle.
CORPUS_JS = """(n) => {
  const pts = document.querySelectorAll('.st-key-k_strip .scatterlayer .points path').length;
  const table = document.querySelector('.st-key-clip_table [data-testid="stDataFrame"]');
  const running = document.querySelector('[data-testid="stStatusWidget"] button, [data-testid="stSpinner"]');
  const exc = document.querySelector('[data-testid="stException"]');
  return !!exc || (pts === n && !!table && !running);
}"""


def assert_no_error(page) -> str:
    body = page.inner_text("body")
    exc = page.locator('[data-testid="stException"]')
    assert exc.count() == 0, exc.first.inner_text()
    assert "Traceback" not in body, body[:2000]
    return body


def open_corpus_view(page, url: str, n_clips: int) -> None:
    page.goto(url, wait_until="domcontentloaded")
    page.locator('[data-testid="stSidebar"] [data-testid="stRadio"]').filter(has_text="View") \
        .get_by_text("Corpus", exact=True).click(timeout=150_000)
    page.wait_for_function(CORPUS_JS, arg=n_clips, timeout=150_000, polling=200)


def select_point(page, index: int) -> str:
    """Box-select one point of the k@0.8 strip (the chart's selection opens the clip); its clip id."""
    page.locator(".st-key-k_strip").scroll_into_view_if_needed()
    box = page.locator(".st-key-k_strip .scatterlayer .points path").nth(index).bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    hover = page.locator(".st-key-k_strip .hoverlayer").first
    page.wait_for_function("(e) => e.textContent.includes(':')", arg=hover.element_handle(), timeout=10_000)
    clip = hover.text_content().split(":")[0].strip()
    page.mouse.move(x - 15, y - 15)
    page.mouse.down()
    page.mouse.move(x + 15, y + 15, steps=8)
    page.mouse.up()
    return clip


def listed_clips(page) -> list[str]:
    """The clip ids in the corpus view's clip list, in row order."""
    grid = page.locator('.st-key-clip_table [data-testid="stDataFrame"]')
    grid.scroll_into_view_if_needed()
    # the grid is a canvas; its accessibility table carries the cell text once the grid is on screen
    first = grid.locator('table[role="grid"] tbody tr td:first-child')
    first.first.wait_for(state="attached", timeout=30_000)
    return [t.strip() for t in first.all_text_contents()]


def select_row(page, row: int) -> str:
    """Click a row of the corpus view's clip list (row selection opens the clip); its clip id."""
    clip = listed_clips(page)[row]
    box = page.locator('.st-key-clip_table [data-testid="stDataFrame"]').bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 35 * (row + 1) + 17)  # row marker: below the 35 px header
    return clip


@pytest.mark.parametrize("launch_as, pick", [("explore --report", "point"), ("explore --report --manifest", "row")])
def test_browser_corpus_view_of_a_cli_report(cli_report, tmp_path, launch_as, pick):
    pw = pytest.importorskip("playwright.sync_api")
    import pandas as pd

    manifest, rep, ckpt = cli_report
    truth = dict(zip([Path(p).stem for p in pd.read_csv(manifest)["path"]], pd.read_csv(manifest)["emotion"]))
    # without --manifest the command offers the app the manifest recorded in report.json (the case)
    extra = ["--manifest", str(manifest)] if "--manifest" in launch_as else []
    proc, port, url, log = start_explore(tmp_path, "--report", str(rep), *extra, *ckpt)
    try:
        wait_healthy(url, proc, timeout=120)
        with pw.sync_playwright() as p:
            ctx = launch(p, tmp_path / "chromium-profile")
            try:
                page = ctx.new_page()
                open_corpus_view(page, url, len(truth))
                body = assert_no_error(page)
                assert f"Corpus report: {rep.name}" in body
                assert set(truth) <= set(listed_clips(page))
                clip = select_point(page, 1) if pick == "point" else select_row(page, 1)
                wait_rendered(page, clip, 150)
                assert_no_error(page)
                true = page.locator('[data-testid="stMetric"]').filter(has_text="True label").first
                assert true.locator('[data-testid="stMetricValue"]').inner_text().strip() == truth[clip]
                assert predicted(page)
            finally:
                ctx.close()
    finally:
        stop_group(proc)
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]
    if launch_as == "explore --report":
        assert "using the report's manifest" in text


# ---------------------------------------------------------------------------------------------
# the recording view on a timeline made by `explain-ser timeline` from the project's long example (issue 26)


@pytest.fixture(scope="module")
def cli_timeline(tmp_path_factory):
    """(timeline directory, checkpoint args): `explain-ser timeline --align` on the long example recording."""
    from test_explorer import make_timeline

    return make_timeline(tmp_path_factory.mktemp("cli_timeline"), "--align")


# The recording view is done when every utterance is a bar, the attention heatmap is drawn and the script is idle.
RECORDING_JS = """(n) => {
  const bars = document.querySelectorAll('.st-key-timeline .barlayer .point').length;
  const heat = document.querySelector('.st-key-timeline .hm, .st-key-timeline .heatmaplayer image');
  const running = document.querySelector('[data-testid="stStatusWidget"] button, [data-testid="stSpinner"]');
  const exc = document.querySelector('[data-testid="stException"]');
  return !!exc || (bars === n && !!heat && !running);
}"""

# The clip view's words tier holds words (the spectrogram figure has a "words" trace with text).
WORDS_JS = """() => {
  const gd = document.querySelector('.st-key-spectrogram .js-plotly-plot');
  return !!gd && !!gd.data && gd.data.some(t => t.name === 'words' && (t.text || []).length > 0);
}"""

# Where a point of the emotion row is on the page: plotly's own axes map (time, confidence) to pixels.
BAR_XY_JS = """([t, h]) => {
  const gd = document.querySelector('.st-key-timeline .js-plotly-plot');
  const xa = gd._fullLayout.xaxis2, ya = gd._fullLayout.yaxis2, r = gd.getBoundingClientRect();
  return [r.left + xa._offset + xa.l2p(t), r.top + ya._offset + ya.l2p(h)];
}"""


def test_browser_recording_view_of_a_cli_timeline(cli_timeline, tmp_path):
    pw = pytest.importorskip("playwright.sync_api")
    import pandas as pd

    tdir, ckpt = cli_timeline
    seg = pd.read_csv(tdir / "session.segments.csv", keep_default_na=False)
    i = 1  # the second utterance: the excited question
    assert len(seg) >= 3 and seg["text"][i]  # --align: the words Whisper heard in it
    shot = (ROOT / "figures" / "explorer_recording.png" if os.environ.get("EXPLAIN_SER_SCREENSHOT")
            else tmp_path / "explorer_recording.png")
    proc, port, url, log = start_explore(tmp_path, "--timeline", str(tdir), *ckpt)
    try:
        wait_healthy(url, proc, timeout=120)
        with pw.sync_playwright() as p:
            ctx = launch(p, tmp_path / "chromium-profile")
            try:
                page = ctx.new_page()
                page.goto(url, wait_until="domcontentloaded")
                page.locator('[data-testid="stSidebar"] [data-testid="stRadio"]').filter(has_text="View") \
                    .get_by_text("Recording", exact=True).click(timeout=150_000)
                page.wait_for_function(RECORDING_JS, arg=len(seg), timeout=150_000, polling=200)
                body = assert_no_error(page)
                assert "Recording session.wav" in body and f"{len(seg)} utterances" in body
                page.wait_for_timeout(500)  # let plotly finish drawing before the screenshot
                page.screenshot(path=str(shot), full_page=True)

                # box-select the utterance's bar by the marker on its top: it opens in the clip view with its
                # audio, attention and words
                page.locator(".st-key-timeline").scroll_into_view_if_needed()
                x, y = page.evaluate(BAR_XY_JS, [(seg["start"][i] + seg["end"][i]) / 2, seg["confidence"][i]])
                page.mouse.move(x - 12, y - 12)
                page.mouse.down()
                page.mouse.move(x + 12, y + 12, steps=8)
                page.mouse.up()
                clip = f"session@{seg['start'][i]:.2f}"
                wait_rendered(page, clip, 150)
                body = assert_no_error(page)
                assert f"Utterance #{i + 1} of session.wav" in body
                assert predicted(page) == seg["emotion"][i]  # the timeline's emotion for these very samples
                # the words tier is drawn once the utterance is aligned: on a loaded machine that lands after the
                # first render, so wait for it (an empty tier at the timeout still fails below)
                with contextlib.suppress(pw.TimeoutError):
                    page.wait_for_function(WORDS_JS, timeout=150_000, polling=500)
                traces = page.evaluate("() => document.querySelector('.st-key-spectrogram .js-plotly-plot')"
                                       ".data.map(t => [t.name, t.text || []])")
                words = {w.lower().strip(".,?!") for name, text in traces if name == "words" for w in text}
                assert {"really", "win"} <= words, traces
                assert "attention mean" in [name for name, _ in traces]
                assert page.locator("audio").count() >= 2  # the utterance and its top segment
            finally:
                ctx.close()
        # stopping the command stops its server (issue 26): SIGTERM to `explain-ser explore` alone
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 128 + signal.SIGTERM
    finally:
        stop_group(proc)
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]
    with socket.socket() as s:  # nothing listens on the port any more
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
    shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)
