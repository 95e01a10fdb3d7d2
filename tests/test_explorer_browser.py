"""The explorer in a real browser: `streamlit run apps/explorer.py` on 127.0.0.1, driven by headless Chromium.

Playwright's Python package drives the Debian ``chromium`` binary (``playwright install`` cannot
download browsers here). Set ``EXPLAIN_SER_SCREENSHOT=1`` to write the screenshot to
``figures/explorer.png`` (the README's); otherwise it goes to the test's temp dir.
"""

from __future__ import annotations

import contextlib
import os
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
