"""The live charts, the progress bar and the stop button in a real browser: JupyterLab on
127.0.0.1, driven by headless Chromium through selenium, running one notebook against the
embedded simulator, the way a user sees it.

One JupyterLab server, one browser and one notebook serve every test of the module: the
``session`` fixture drives the notebook once and keeps what it measured; each test asserts one
behaviour of it. The live charts run in the notebook at the same time; their handles subscribe
and unsubscribe under them; one handle draws two charts in turn; the page is reloaded while they
run, then they are stopped, the notebook saved, its kernel shut down and the notebook opened again.

Needs ``chromium`` and ``chromedriver`` (Debian: ``apt-get install chromium chromium-driver``;
``.ci/run`` installs them) and selenium and jupyterlab (the ``test`` extra); skipped otherwise,
the reason printed. ``NEXUSDATA_SCREENSHOTS=docs/images pytest -m browser`` refreshes the
pictures of docs/notebooks.md (by default they go to a temporary directory, printed).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest
from waiting import wait_until

from nexusdata.sim.indices import EXCHANGES

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]

APT_PACKAGES = "chromium chromium-driver"

WAIT = 30.0
"""Seconds anything the page should show soon is given before the test fails, saying what did
not appear (JupyterLab's first load and a kernel's start take several seconds on 2 cores)."""

MEASURE_SECONDS = 5.0
"""The window over which the browser counts each chart's new images."""

MIN_CHANGES = 10
"""New images each live chart must show in :data:`MEASURE_SECONDS` (the issue's target)."""

STOP_WITHIN = 1.0
"""Seconds from a click on the stop button to the end of the interrupted cell, at most."""

KERNEL = "nexusdata-under-test"

PROBES = """\
\"\"\"The test's probes in the notebook: what a live chart shows first.\"\"\"

import matplotlib.text


def texts(chart):
    \"\"\"The visible, non-empty texts of the chart's figure as last drawn: those inside the
    figure, which its image shows, and those outside it (pushed off by a stale layout), which it
    does not.\"\"\"
    box = chart.figure.bbox
    found = {"inside": [], "outside": []}
    for text in chart.figure.findobj(matplotlib.text.Text):
        if text.get_visible() and text.get_text():
            extent = text.get_window_extent()
            inside = box.x0 - 1 <= extent.x0 and extent.x1 <= box.x1 + 1 and box.y0 - 1 <= extent.y0 and extent.y1 <= box.y1 + 1
            found["inside" if inside else "outside"].append(text.get_text())
    return found


def png_size(data):
    return [int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")] if data else [0, 0]


def first_frames(chart):
    \"\"\"The chart's texts and image size now (the image it is displayed with), and its texts
    at its first redraw after that, filled in when it happens.\"\"\"
    frames = {"shown": texts(chart), "shown_size": png_size(chart.image.value), "first_redraw": None}

    def record(change):
        if frames["first_redraw"] is None:
            frames["first_redraw"] = texts(chart)

    chart.image.observe(record, "value")
    return frames
"""
"""A module beside the notebook, so that its cells show what they do and not how the test looks."""

CELLS = {
    "setup": """\
import asyncio, json, time
import nexusdata as nd
from nexusdata.sim import Simulator
from probes import first_frames  # the test's: what a chart shows first

sim = Simulator(seed=0, rate=20).start()
print("nexusdata from", nd.__file__)""",
    "progress": """\
df = nd.stream_depth("BTCUSDT", seconds=1, **sim.nexus)
print(f"progress cell: {len(df)} rows")""",
    "depth": """\
live = nd.live_depth("BTCUSDT", **sim.nexus)
chart = live.plot()
depth_first = first_frames(chart)
chart""",
    "v3": """\
v3 = nd.live_index("pair_index_v3", 1, **sim.chainext)
v3chart = v3.plot()
v3_first = first_frames(v3chart)
v3chart""",
    "first_frames": """\
for _ in range(100):  # both charts' first redraws, waited for 10 s at most
    if depth_first["first_redraw"] is not None and v3_first["first_redraw"] is not None:
        break
    await asyncio.sleep(0.1)
print("FIRST FRAMES " + json.dumps({"depth": depth_first, "v3": v3_first}))
print("KERNEL REDRAWS " + json.dumps({"depth": chart.redraws, "v3": v3chart.redraws}))""",
    "stop_button": """\
t0 = time.monotonic()
rows = nd.stream_depth("BTCUSDT", seconds=60, **sim.nexus)
took = time.monotonic() - t0
print(f"STOPPED {len(rows)} rows after {took:.2f} s, interrupted: {rows.attrs['nexusdata']['interrupted']}")""",
    "status": """\
live""",
    "first_plot": """\
sol = nd.live_depth("SOLUSDT", depth=10, **sim.nexus)
sol.plot()""",
    "second_plot": """\
sol.plot(chart="heatmap")""",
    "subscribe": """\
live.subscribe("ETHUSDT"); sol.subscribe("BTCUSDT"); v3.subscribe(2)
await asyncio.sleep(2)  # the charts go on redrawing meanwhile, from the kernel's loop (the browser watches them)
live.unsubscribe("BTCUSDT"); v3.unsubscribe(1)
await asyncio.sleep(0.5)
print("SUBSCRIPTIONS " + json.dumps({"live": live.subscriptions, "sol": sol.subscriptions, "v3": v3.subscriptions}))""",
    "static": """\
import matplotlib.pyplot as plt
plt.plot([1, 2]); plt.show()  # pyplot's inline backend, as notebooks 02 and 03 have it
nd.plot_depth(rows)""",
    "cleanup": """\
print(f"stopped {nd.stop_live()} live handles")
sim.stop()
print(f"live handles left: {len(nd.live_handles())}")""",
}
"""The notebook's cells, run one by one by the test in this order."""

INDEX = {name: i for i, name in enumerate(CELLS)}

NOTEBOOK = "live_charts.ipynb"

PAGE_PICTURE = "browser_notebook.png"
CHART_PICTURES = {"depth": "browser_depth.png", "v3": "browser_pair_weights.png"}
SUBSCRIBED_PICTURES = {
    "depth": "browser_subscribed_depth.png",
    "second_plot": "browser_subscribed_heatmap.png",
    "v3": "browser_subscribed_pair_weights.png",
}
KEPT_PICTURE = "browser_kept.png"
REOPENED_PICTURE = "browser_reopened.png"
"""The screenshots' file names, those of docs/images."""

LIVE_CELLS = ("depth", "v3", "second_plot")
"""The cells whose chart runs until the handles stop."""
KEPT_CELLS = ("depth", "v3", "status", "first_plot", "second_plot")
"""Every cell that showed a live widget: each must show its picture in the end."""
CAPTIONS = {
    "depth": r"(\w+) order book at \d",
    "second_plot": r"(\w+) at \d\d:\d\d",
    "v3": r"(\S+) v3 pair weights at \d",
}
"""What each chart's caption (the header's second line) names: the symbol or pair it draws."""

# The DOM this relies on (JupyterLab 4, ipywidgets 8):
CELL = ".jp-Notebook .jp-Cell"
PROMPT = ".jp-InputPrompt"  # "[ ]:", "[*]:" while running, "[3]:" when done
OUTPUT = ".jp-OutputArea"
PROGRESS = ".jupyter-widgets.widget-hprogress"  # tqdm.auto's FloatProgress
CHART = ".jp-OutputArea-output > .jupyter-widgets"  # a LivePlot, whatever its layout (a box today)
CHART_IMAGE = ".jp-OutputArea-output img.widget-image"  # its image, the chart itself
KEPT = ".jp-OutputArea-output.jp-RenderedImage img"  # an image output: a stopped chart's kept picture
KEPT_HTML = ".jp-OutputArea-output.jp-RenderedHTMLCommon table"  # an HTML output: a stopped handle's kept status
WIDGET = ".jp-OutputArea-output .jupyter-widgets"  # any widget view
HEADER = ".jp-OutputArea-output .widget-html-content"  # a chart's header (the first HTML widget in its cell)
DIRTY = ".lm-TabBar-tab.jp-mod-dirty"  # a notebook with unsaved changes (its tab's dot)
INTERRUPT = ".jp-NotebookPanel-toolbar jp-button[data-command='notebook:interrupt-kernel']"
KERNEL_IDLE = ".jp-Notebook-ExecutionIndicator[data-status='idle']"
KERNEL_NAME = ".jp-KernelName"
DIALOG_ACCEPT = ".jp-Dialog .jp-Dialog-button.jp-mod-accept"
TOAST = ".Toastify__toast"
SCROLLER = ".jp-NotebookPanel .jp-WindowedPanel-outer"  # what scrolls the notebook

SETTINGS = {
    # No news or update toast over the notebook (and no request for them leaves the machine).
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
    # Every cell stays in the page, rendered, however far it is scrolled out of view.
    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
}
"""JupyterLab settings overrides (the defaults the server hands the page)."""


def _say(config: pytest.Config, line: str) -> None:
    """Print ``line`` on the terminal, even without ``-s``."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"\n{line}")


def _skip(config: pytest.Config, reason: str) -> NoReturn:
    _say(config, f"tests/test_browser.py skipped: {reason}")
    pytest.skip(reason)


def _executable(name: str) -> str | None:
    """``/usr/bin/NAME`` or ``NAME`` on ``PATH``."""
    usr = Path("/usr/bin") / name
    return str(usr) if usr.is_file() and os.access(usr, os.X_OK) else shutil.which(name)


def _browser_or_skip(config: pytest.Config) -> tuple[str, str]:
    """The paths of chromium and chromedriver, or a skip naming what is missing."""
    missing = [module for module in ("selenium", "jupyterlab") if importlib.util.find_spec(module) is None]
    if missing:
        _skip(config, f"{' and '.join(missing)} not installed: pip install -e '.[test]'")
    chromium, driver = _executable("chromium"), _executable("chromedriver")
    if chromium is None or driver is None:
        absent = " and ".join(name for name, path in (("chromium", chromium), ("chromedriver", driver)) if path is None)
        _skip(config, f"{absent} not found in /usr/bin or on PATH: apt-get install {APT_PACKAGES}")
    return chromium, driver


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Lab:
    """A JupyterLab server of this install on 127.0.0.1, isolated in ``home``."""

    home: Path
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=5) as reply:
            return json.load(reply)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def start_lab(home: Path) -> Lab:
    """Start JupyterLab with its config, data, runtime, settings and IPython directories in
    ``home``, a kernelspec there that runs this interpreter on this checkout, no token, no
    browser; returns once ``/api/status`` answers."""
    dirs = {
        name: home / name for name in ("root", "config", "data", "runtime", "ipython", "settings", "user-settings", "workspaces")
    }
    for path in dirs.values():
        path.mkdir(parents=True)
    kernelspec = dirs["data"] / "kernels" / KERNEL
    kernelspec.mkdir(parents=True)
    env = {"PYTHONPATH": os.environ.get("PYTHONPATH", str(ROOT))}  # conftest put this checkout first
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "nexusdata under test",
        "language": "python",
        "env": env,
    }
    (kernelspec / "kernel.json").write_text(json.dumps(spec, indent=1))
    (dirs["settings"] / "overrides.json").write_text(json.dumps(SETTINGS, indent=1))
    port = _free_port()
    log = home / "jupyterlab.log"
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        f"--ServerApp.root_dir={dirs['root']}",
        f"--LabApp.app_settings_dir={dirs['settings']}",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    environment = {
        **os.environ,
        **env,
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "JUPYTER_DATA_DIR": str(dirs["data"]),
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "IPYTHONDIR": str(dirs["ipython"]),
        "JUPYTERLAB_SETTINGS_DIR": str(dirs["user-settings"]),
        "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=environment, stdout=out, stderr=subprocess.STDOUT, cwd=dirs["root"])
    lab = Lab(home, process, port, log)

    def answers() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with status {process.returncode}:\n{lab.log_tail()}")
        try:
            return "started" in lab.api("/api/status")
        except (OSError, ValueError):
            return False

    if not wait_until(answers, timeout=60, interval=0.1):
        stop_lab(lab)
        raise RuntimeError(f"JupyterLab did not answer on {lab.url}/api/status within 60 s:\n{lab.log_tail()}")
    return lab


def stop_lab(lab: Lab) -> None:
    """Terminate the server (it shuts its kernels down), kill it if it lingers."""
    if lab.process.poll() is None:
        lab.process.terminate()
        try:
            lab.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            lab.process.kill()
            lab.process.wait(timeout=15)


def start_browser(chromium: str, driver: str) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--window-size=1400,2400",
        "--force-device-scale-factor=1",
        # Nothing but 127.0.0.1 resolves: no request of the page or the browser leaves the machine.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(driver), options=options)  # a driver path: Selenium Manager is not run


@dataclass
class Session:
    """What the notebook did in the browser, measured once for every test."""

    shots: Path
    outputs: dict[str, str] = field(default_factory=dict)
    """Each cell's output text, by cell name."""
    progress_widgets: int = 0
    changes: dict[str, int] = field(default_factory=dict)
    """New images of each chart in the measured window."""
    window: float = 0.0
    """The measured window in the browser's clock, in seconds."""
    first_images: dict[str, list[int]] = field(default_factory=dict)
    """Natural width and height of each chart's first image loaded in the browser."""
    first_frames: dict[str, Any] = field(default_factory=dict)
    kernel_redraws: dict[str, int] = field(default_factory=dict)
    stop_seconds: float | None = None
    """From the click on the stop button to the interrupted cell's end, in the browser's clock."""
    page_text: str = ""
    toasts: int = 0
    headers: dict[str, list[str]] = field(default_factory=dict)
    """Every header each chart showed while its handle subscribed and unsubscribed, in order."""
    first_plot_kept: bool = False
    """Whether a handle's first chart was a picture once its second chart showed."""
    static_image: dict[str, int] = field(default_factory=dict)
    """The static chart's image after plt.show(): its pixels and its width on the page."""
    reloaded: list[str] = field(default_factory=list)
    """The cells whose live widget showed again after the page reload, while the handles ran."""
    kept: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Pictures (images or HTML tables) and widgets each live widget's cell shows once the handles stopped."""
    reopened: dict[str, tuple[int, int]] = field(default_factory=dict)
    """The same once the notebook is saved, its kernel shut down and the notebook opened again."""
    reopened_text: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    def printed(self, cell: str, label: str) -> str:
        """The rest of the line starting with ``label`` in ``cell``'s output."""
        found = re.search(rf"^{re.escape(label)} (.*)$", self.outputs.get(cell, ""), re.MULTILINE)
        assert found, f"the {cell!r} cell did not print {label!r}; its output:\n{self.outputs.get(cell)!r}"
        return found.group(1)


class Page:
    """The notebook open in the browser: bounded waits that say what did not appear."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver

    def wait(self, condition: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
        from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        try:
            return WebDriverWait(
                self.driver, timeout, poll_frequency=0.05, ignored_exceptions=[StaleElementReferenceException]
            ).until(lambda _: condition())
        except TimeoutException:
            raise AssertionError(f"after {timeout:g} s in the browser: {what}") from None

    def find(self, selector: str, within: Any = None) -> list[Any]:
        from selenium.webdriver.common.by import By

        return (within or self.driver).find_elements(By.CSS_SELECTOR, selector)

    def cell(self, name: str) -> Any:
        cells = self.find(CELL)
        assert len(cells) == len(CELLS), f"the notebook shows {len(cells)} cells, not {len(CELLS)}"
        return cells[INDEX[name]]

    def prompt(self, name: str) -> str:
        return str(self.find(PROMPT, self.cell(name))[0].text)

    def run(self, name: str) -> None:
        """Select the cell by its prompt and run it in place (Ctrl+Enter)."""
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys

        self.find(PROMPT, self.cell(name))[0].click()
        ActionChains(self.driver).key_down(Keys.CONTROL).send_keys(Keys.ENTER).key_up(Keys.CONTROL).perform()
        self.wait(lambda: self.prompt(name) != "[ ]:", f"the {name!r} cell did not start running (its prompt stayed '[ ]:')")

    def finished(self, name: str, timeout: float = WAIT) -> str:
        """Wait for the cell's run to end; its output text."""
        self.wait(
            lambda: re.fullmatch(r"\[\d+\]:", self.prompt(name)),
            f"the {name!r} cell did not finish (prompt {self.prompt(name)!r}); its output:\n{self.output(name)}",
            timeout,
        )
        return self.output(name)

    def output(self, name: str) -> str:
        return "\n".join(str(o.text) for o in self.find(OUTPUT, self.cell(name)))

    def save(self) -> None:
        """Save the notebook (Ctrl+S) and wait until the server has written it."""
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys

        self.find(PROMPT, self.find(CELL)[0])[0].click()
        ActionChains(self.driver).key_down(Keys.CONTROL).send_keys("s").key_up(Keys.CONTROL).perform()
        self.wait(lambda: not self.find(DIRTY), "the notebook was not saved")

    def idle(self) -> None:
        self.wait(lambda: self.find(KERNEL_IDLE), "the kernel did not become idle")

    def text(self) -> str:
        return str(self.driver.execute_script("return document.body.innerText"))


# Browser side: every chart image's first natural size, and counters of their src changes.
WATCH_FIRST_IMAGES = """
const [image, cell] = arguments;
window.nexusdataFirst = [];
new MutationObserver(() => {
  for (const img of document.querySelectorAll(image)) {
    if (img.nexusdataSeen) continue;
    img.nexusdataSeen = true;
    const entry = {cell: Array.from(document.querySelectorAll(cell)).indexOf(img.closest(cell)), size: null};
    window.nexusdataFirst.push(entry);
    const loaded = () => { if (entry.size === null) entry.size = [img.naturalWidth, img.naturalHeight]; };
    if (img.complete && img.naturalWidth) loaded(); else img.addEventListener('load', loaded, {once: true});
  }
}).observe(document.body, {childList: true, subtree: true});
"""

WATCH_HEADERS = """
window.nexusdataHeaders = arguments[0].map(header => {
  const seen = [header.innerText];
  new MutationObserver(() => { if (seen[seen.length - 1] !== header.innerText) seen.push(header.innerText); })
    .observe(header, {childList: true, characterData: true, subtree: true});
  return seen;
});
"""

COUNT_CHANGES = """
const [images, seconds] = arguments;
const started = performance.now();
window.nexusdataChanges = images.map(img => {
  const times = [];
  new MutationObserver(records => { for (const r of records) times.push(performance.now() - started); })
    .observe(img, {attributes: true, attributeFilter: ['src']});
  return times;
});
window.nexusdataWindow = [started, seconds * 1000];
"""

READ_CHANGES = """
const [started, window_ms] = window.nexusdataWindow;
return {counts: window.nexusdataChanges.map(times => times.filter(t => t <= window_ms).length),
        elapsed: (performance.now() - started) / 1000};
"""

TIME_STOP = """
const [button, prompt] = arguments;
window.nexusdataStop = {clicked: null, finished: null};
button.addEventListener('click', () => { window.nexusdataStop.clicked = performance.now(); }, {capture: true, once: true});
const done = new MutationObserver(() => {
  if (window.nexusdataStop.clicked !== null && /^\\[\\d+\\]:$/.test(prompt.textContent.trim())) {
    window.nexusdataStop.finished = performance.now();
    done.disconnect();
  }
});
done.observe(prompt, {childList: true, characterData: true, subtree: true});
"""


def drive(page: Page, lab: Lab, session: Session) -> None:
    """Open the notebook, run its cells one by one and measure what the browser shows."""
    started = time.monotonic()
    page.driver.get(f"{lab.url}/lab/tree/{NOTEBOOK}")
    page.wait(lambda: len(page.find(CELL)) == len(CELLS), f"the notebook's {len(CELLS)} cells did not show")
    session.timings["cells shown"] = time.monotonic() - started
    for accept in page.find(DIALOG_ACCEPT):  # a kernel selection dialog, should one ask
        accept.click()
    page.wait(lambda: "nexusdata under test" in page.find(KERNEL_NAME)[0].text, "the notebook did not pick the test's kernel")
    page.idle()
    session.timings["notebook open"] = time.monotonic() - started
    page.driver.execute_script(WATCH_FIRST_IMAGES, CHART_IMAGE, CELL)

    page.run("setup")
    session.outputs["setup"] = page.finished("setup")
    page.run("progress")
    session.progress_widgets = len(
        page.wait(lambda: page.find(PROGRESS, page.cell("progress")), "no progress widget while it ran")
    )
    session.outputs["progress"] = page.finished("progress")
    page.wait(lambda: not page.find(PROGRESS, page.cell("progress")), "the finished bar stayed a widget")
    session.outputs["progress"] = page.output("progress")  # the bar's final line, kept as text

    charts: dict[str, Any] = {}
    for name in ("depth", "v3"):
        page.run(name)
        session.outputs[name] = page.finished(name)
        charts[name] = page.wait(lambda n=name: page.find(CHART, page.cell(n)), f"the {name} chart's widget did not show")[0]
    page.idle()
    images = [
        page.wait(lambda n=name: page.find(CHART_IMAGE, page.cell(n)), f"the {name} chart has no image")[0] for name in charts
    ]

    # The measured behaviour: how often each image changes while both charts run together.
    measuring = time.monotonic()
    page.driver.execute_script(COUNT_CHANGES, images, MEASURE_SECONDS)
    time.sleep(MEASURE_SECONDS + 0.3)  # the measured window itself; the browser clocks it
    result = page.driver.execute_script(READ_CHANGES)
    session.changes = dict(zip(charts, result["counts"]))
    session.window = float(result["elapsed"])
    session.timings["measured window"] = time.monotonic() - measuring
    page.driver.execute_script(f"document.querySelector({SCROLLER!r}).scrollTo(0, 0)")
    page.driver.save_screenshot(str(session.shots / PAGE_PICTURE))  # the top: both charts running
    for name, chart in charts.items():
        page.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", chart)  # clear of the status bar
        chart.screenshot(str(session.shots / CHART_PICTURES[name]))

    firsts = page.wait(
        lambda: (f := page.driver.execute_script("return window.nexusdataFirst")) and all(e["size"] for e in f) and f,
        "the charts' first images did not load",
    )
    session.first_images = {name: next((e["size"] for e in firsts if e["cell"] == INDEX[name]), [0, 0]) for name in charts}

    page.run("first_frames")
    session.outputs["first_frames"] = page.finished("first_frames")
    session.first_frames = json.loads(session.printed("first_frames", "FIRST FRAMES"))
    session.kernel_redraws = json.loads(session.printed("first_frames", "KERNEL REDRAWS"))

    # The stop button: a 60 s collection, interrupted once its progress bar shows.
    session.timings["first frames"] = time.monotonic() - started
    page.run("stop_button")
    page.wait(lambda: page.find(PROGRESS, page.cell("stop_button")), "the 60 s collection's progress bar did not show")
    button = page.find(INTERRUPT)
    assert button, f"no stop button ({INTERRUPT}) in the notebook's toolbar"
    page.driver.execute_script(TIME_STOP, button[0], page.find(PROMPT, page.cell("stop_button"))[0])
    button[0].click()
    session.outputs["stop_button"] = page.finished("stop_button", timeout=WAIT)
    stop = page.wait(
        lambda: page.driver.execute_script("return window.nexusdataStop.finished && window.nexusdataStop"),
        "no end of the interrupted cell was seen",
    )
    session.stop_seconds = (stop["finished"] - stop["clicked"]) / 1000

    # One handle, two charts: the first becomes its picture as the second shows.
    for name in ("status", "first_plot", "second_plot"):
        page.run(name)
        session.outputs[name] = page.finished(name)
    page.wait(lambda: page.find(CHART_IMAGE, page.cell("second_plot")), "the second chart of a handle did not show")
    session.first_plot_kept = bool(page.find(KEPT, page.cell("first_plot"))) and not page.find(WIDGET, page.cell("first_plot"))

    session.timings["two plots"] = time.monotonic() - started

    # Subscribe and unsubscribe under every kind of chart, while the browser records its headers.
    headers = [page.find(HEADER, page.cell(name))[0] for name in CAPTIONS]
    page.driver.execute_script(WATCH_HEADERS, headers)
    page.run("subscribe")
    session.outputs["subscribe"] = page.finished("subscribe")
    for name, header in zip(CAPTIONS, headers):  # the next redraw's header says so (a busy chart waits for its credit)
        if name != "second_plot":
            page.wait(lambda h=header: "unsubscribed" in h.text, f"the {name} chart's header never said it was unsubscribed")
    session.headers = dict(zip(CAPTIONS, page.driver.execute_script("return window.nexusdataHeaders")))
    for name, picture in SUBSCRIBED_PICTURES.items():
        chart = page.find(CHART, page.cell(name))[0]
        page.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", chart)
        chart.screenshot(str(session.shots / picture))

    session.timings["subscribed"] = time.monotonic() - started

    # A static chart after plt.show(): still drawn at twice its size.
    page.run("static")
    session.outputs["static"] = page.finished("static")
    image = page.wait(lambda: page.find(KEPT, page.cell("static"))[-1:], "the static chart showed no image")[0]
    page.wait(lambda: page.driver.execute_script("return arguments[0].naturalWidth", image), "the static chart did not load")
    session.static_image = page.driver.execute_script(
        "const i = arguments[0]; return {width: i.naturalWidth, height: i.naturalHeight, shown: i.width}", image
    )

    session.timings["static chart"] = time.monotonic() - started

    # The page reloaded while the handles run (saved first, as a user's autosave does): the
    # widgets show again, from the kernel; the display ids the kernel showed them with no
    # longer reach them.
    save_notebook(page, lab, "static", "image/png")
    page.driver.refresh()
    page.wait(lambda: len(page.find(CELL)) == len(CELLS), "the notebook's cells did not show after the page reload")
    page.wait(lambda: all(page.find(CHART_IMAGE, page.cell(n)) for n in LIVE_CELLS), "the running charts did not show again")
    page.wait(lambda: page.find(WIDGET, page.cell("status")), "the running handle's status did not show again")
    session.reloaded = [n for n in KEPT_CELLS if page.find(WIDGET, page.cell(n))]
    session.timings["reloaded"] = time.monotonic() - started

    page.run("cleanup")
    session.outputs["cleanup"] = page.finished("cleanup")
    session.page_text = page.text()
    session.toasts = len(page.find(TOAST))
    # stopped charts and statuses are replaced by a picture of their last state, which the saved notebook keeps
    page.wait(lambda: all(kept(page, n) for n in KEPT_CELLS), f"not every live widget became its picture: {pictures(page)}")
    session.kept = pictures(page)
    page.driver.execute_script(f"document.querySelector({SCROLLER!r}).scrollTo(0, 0)")
    page.driver.save_screenshot(str(session.shots / KEPT_PICTURE))
    session.timings["notebook run"] = time.monotonic() - started

    # saved, its kernel shut down, and opened again, as a user coming back to it another day:
    # the pictures, not widget errors
    save_notebook(page, lab, "cleanup", "live handles left: 0")
    shut_down_kernels(lab, page)
    page.driver.refresh()
    page.wait(lambda: len(page.find(CELL)) == len(CELLS), "the saved notebook's cells did not show again")
    page.wait(lambda: all(kept(page, n) for n in KEPT_CELLS), f"the reopened notebook lacks pictures: {pictures(page)}")
    session.reopened = pictures(page)
    session.reopened_text = page.text()
    for dialog in page.find(".jp-Dialog"):  # a kernel prompt, should one ask, is not the notebook's
        page.driver.execute_script("arguments[0].remove()", dialog)
    page.driver.execute_script("arguments[0].scrollIntoView({block: 'start'})", page.cell("status"))
    page.driver.save_screenshot(str(session.shots / REOPENED_PICTURE))
    session.timings["saved and reopened"] = time.monotonic() - started


def save_notebook(page: Page, lab: Lab, cell: str, output: str) -> None:
    """Save the notebook and wait until the file holds ``output`` in the outputs of ``cell`` (its
    last cell run): a reload before the server has written it would load the notebook as it was."""
    page.save()
    path = lab.home / "root" / NOTEBOOK

    def written() -> bool:
        try:
            outputs = json.loads(path.read_text())["cells"][INDEX[cell]]["outputs"]
        except ValueError:  # caught half written
            return False
        return output in json.dumps(outputs)

    page.wait(written, f"the saved notebook does not hold {output!r} in the outputs of the {cell!r} cell")


def pictures(page: Page) -> dict[str, tuple[int, int]]:
    """The pictures (images, HTML tables) and the widgets each live widget's cell shows."""
    return {n: (len(page.find(f"{KEPT}, {KEPT_HTML}", page.cell(n))), len(page.find(WIDGET, page.cell(n)))) for n in KEPT_CELLS}


def kept(page: Page, name: str) -> bool:
    """Whether the cell ``name`` shows a picture and no widget."""
    cell = page.cell(name)
    return bool(page.find(f"{KEPT}, {KEPT_HTML}", cell)) and not page.find(WIDGET, cell)


def shut_down_kernels(lab: Lab, page: Page) -> None:
    """Shut the notebook's kernel down through the server's REST API, as the page does (its
    XSRF cookie in a header), and wait until the server lists none."""
    page.driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const xsrf = (document.cookie.match(/_xsrf=([^;]+)/) || [])[1] || '';
        fetch('/api/kernels').then(r => r.json())
          .then(ks => Promise.all(ks.map(k => fetch('/api/kernels/' + k.id, {method: 'DELETE', headers: {'X-XSRFToken': xsrf}}))))
          .then(() => done(true), e => done(String(e)));
        """
    )
    assert wait_until(lambda: lab.api("/api/kernels") == [], timeout=WAIT), f"kernels still running: {lab.api('/api/kernels')}"


def write_notebook(path: Path) -> None:
    """The notebook of :data:`CELLS`, without outputs (nbformat 4.5 written by hand: importing
    nbformat costs seconds of jsonschema set-up)."""
    cells = [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": name.replace("_", "-"),
            "metadata": {},
            "outputs": [],
            "source": source,
        }
        for name, source in CELLS.items()
    ]
    kernelspec = {"name": KERNEL, "display_name": "nexusdata under test", "language": "python"}
    path.write_text(
        json.dumps({"cells": cells, "metadata": {"kernelspec": kernelspec}, "nbformat": 4, "nbformat_minor": 5}, indent=1)
    )


def save_failure(page: Page | None, lab: Lab, shots: Path) -> str:
    """A screenshot and the text of the page, and the server's log, beside the screenshots;
    where they are."""
    saved = []
    if page is not None:
        try:
            page.driver.save_screenshot(str(shots / "failure.png"))
            (shots / "failure_page.txt").write_text(page.text())
            saved += ["failure.png", "failure_page.txt"]
        except Exception as error:  # the browser may be what failed
            saved.append(f"(no page: {error!r})")
    shutil.copy(lab.log, shots / "failure_jupyterlab.log")
    saved.append("failure_jupyterlab.log")
    return f"{shots}: {', '.join(saved)}"


@pytest.fixture(scope="module")
def session(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    """The notebook run once in JupyterLab in headless Chromium, and what it measured."""
    chromium, driver_path = _browser_or_skip(request.config)
    shots = Path(os.environ.get("NEXUSDATA_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots")).resolve()
    shots.mkdir(parents=True, exist_ok=True)
    home = tmp_path_factory.mktemp("jupyter")
    session = Session(shots)
    started = time.monotonic()
    with ExitStack() as stack:
        pool = stack.enter_context(ThreadPoolExecutor(1, thread_name_prefix="browser-start"))
        browser = pool.submit(start_browser, chromium, driver_path)  # while the server starts
        stack.callback(lambda: browser.exception() is None and browser.result().quit())
        lab = start_lab(home)
        stack.callback(stop_lab, lab)  # unwound first: the kernel and the server go before the browser
        session.timings["jupyterlab start"] = time.monotonic() - started
        write_notebook(home / "root" / NOTEBOOK)
        (home / "root" / "probes.py").write_text(PROBES)
        page = None
        try:
            page = Page(browser.result())
            drive(page, lab, session)
            shut_down_kernels(lab, page)
        except BaseException:
            _say(request.config, f"tests/test_browser.py failed; saved for debugging in {save_failure(page, lab, shots)}")
            raise
    session.timings["total"] = time.monotonic() - started
    timings = ", ".join(f"{k} {v:.1f} s" for k, v in session.timings.items())
    _say(
        request.config,
        f"tests/test_browser.py: new chart images in {MEASURE_SECONDS:g} s {session.changes}, stop button "
        f"{session.stop_seconds or 0:.2f} s; screenshots in {shots}; {timings}",
    )
    yield session


def test_the_kernel_runs_the_checkout_under_test(session: Session) -> None:
    assert session.printed("setup", "nexusdata from") == str(ROOT / "nexusdata" / "__init__.py")


def test_a_collectors_progress_bar_renders_as_a_widget(session: Session) -> None:
    assert session.progress_widgets == 1, f"progress widgets in the cell's output: {session.progress_widgets}"
    assert re.search(r"progress cell: [1-9]\d* rows", session.outputs["progress"])
    assert "BTCUSDT depth: 100%" in session.outputs["progress"]  # the finished bar, kept as its final line


def test_a_saved_notebook_reopens_with_pictures_not_widget_errors(session: Session) -> None:
    """Every live chart and status became a picture; saved, its kernel shut down and opened
    again, the notebook shows them, and no widget error anywhere (the progress bars became text
    too)."""
    assert session.reopened == dict.fromkeys(KEPT_CELLS, (1, 0)), session.reopened
    assert "Error displaying widget" not in session.reopened_text and "model not found" not in session.reopened_text
    assert "BTCUSDT depth: 100%" in session.reopened_text


def test_live_widgets_show_again_after_a_page_reload_and_become_pictures_after_it(session: Session) -> None:
    """The page reloaded while the handles ran: their widgets came back from the kernel, and
    stopping the handles then replaced each with its picture (the kernel's display ids reach no
    output of a reloaded page: the keepers did it)."""
    assert session.reloaded == ["depth", "v3", "status", "second_plot"]  # the first plot was a picture already
    assert session.kept == dict.fromkeys(KEPT_CELLS, (1, 0)), session.kept
    assert "stopped 3 live handles" in session.outputs["cleanup"]


def test_a_new_chart_of_a_handle_turns_the_previous_one_into_its_picture(session: Session) -> None:
    assert session.first_plot_kept


@pytest.mark.parametrize("chart", list(CAPTIONS))
def test_a_chart_draws_its_own_symbol_while_its_handle_subscribes_and_unsubscribes(session: Session, chart: str) -> None:
    """Every header the browser showed while a second symbol or id flowed on the handle (2 s),
    and after the chart's own was unsubscribed, names the chart's one symbol or pair; the chart
    kept moving; the header says when its symbol is unsubscribed; no traceback anywhere."""
    headers = session.headers[chart]
    named = {found.group(1) for header in headers if (found := re.search(CAPTIONS[chart], header))}
    assert len(named) == 1 and len(headers) >= 5, f"the {chart} chart's headers: {headers}"
    assert session.printed("subscribe", "SUBSCRIPTIONS") == json.dumps(
        {"live": ["ETHUSDT depth"], "sol": ["SOLUSDT depth", "BTCUSDT depth"], "v3": ["pair_index_v3 2"]}
    )
    gone = {"depth": "BTCUSDT depth unsubscribed", "v3": "pair_index_v3 1 unsubscribed", "second_plot": None}[chart]
    assert (gone in headers[-1]) if gone else "unsubscribed" not in headers[-1], headers[-1]
    assert "Traceback" not in session.page_text and "Error" not in session.outputs["subscribe"]


def test_a_static_chart_keeps_twice_its_pixels_after_plt_show(session: Session) -> None:
    assert session.static_image == {"width": 1440, "height": 1200, "shown": 720}, session.static_image


@pytest.mark.parametrize("chart", ["depth", "v3"])
def test_both_live_charts_redraw_at_least_ten_times_in_five_seconds(session: Session, chart: str) -> None:
    """Counted in the browser: new images shown while both charts run in the same notebook."""
    assert session.window >= MEASURE_SECONDS, f"measured {session.window:.2f} s only"
    changes = session.changes[chart]
    assert changes >= MIN_CHANGES, (
        f"the {chart} chart showed {changes} new images in {MEASURE_SECONDS:g} s, fewer than {MIN_CHANGES} "
        f"(both charts: {session.changes}; redraws counted by the kernel by the end: {session.kernel_redraws})"
    )


def test_chart_labels_are_present_from_the_first_frame(session: Session) -> None:
    """The image a chart is displayed with already shows its axis labels; its first redraw after
    that names what it shows (the symbol, the exchange pairs). A label counts only if it lies
    inside the figure: one that a stale layout pushed off the canvas is not in the image."""
    depth, v3 = session.first_frames["depth"], session.first_frames["v3"]
    assert "price − mid" in depth["shown"]["inside"], f"the depth chart's first image: {depth['shown']}"
    assert "pair weight" in v3["shown"]["inside"], f"the v3 chart's first image: {v3['shown']}"
    assert depth["first_redraw"] is not None and v3["first_redraw"] is not None, "a chart never redrew"
    shows = depth["first_redraw"]["inside"]
    assert "price − mid" in shows and any("BTCUSDT" in t for t in shows), (
        f"the depth chart's first redraw: {depth['first_redraw']}"
    )
    shows = v3["first_redraw"]["inside"]
    pairs = any(exchange in t for t in shows for exchange in EXCHANGES)
    assert "pair weight" in shows and pairs, f"the v3 chart's first redraw shows no exchange pair: {v3['first_redraw']}"


@pytest.mark.parametrize("chart", ["depth", "v3"])
def test_a_charts_first_image_has_a_size(session: Session, chart: str) -> None:
    width, height = session.first_images[chart]
    assert width > 0 and height > 0, f"the {chart} chart's first image in the browser is {width}x{height}"
    assert min(session.first_frames[chart]["shown_size"]) > 0, session.first_frames[chart]


def test_the_stop_button_ends_a_collection_within_a_second(session: Session) -> None:
    """A click on JupyterLab's stop button ends a 60 s collection at once, with what it got."""
    assert session.stop_seconds is not None and session.stop_seconds < STOP_WITHIN, f"took {session.stop_seconds} s"
    stopped = re.search(r"STOPPED (\d+) rows after ([\d.]+) s, interrupted: True", session.outputs["stop_button"])
    assert stopped, session.outputs["stop_button"]
    assert int(stopped.group(1)) > 0 and float(stopped.group(2)) < 60


def test_every_widget_displayed_and_nothing_covers_the_notebook(session: Session) -> None:
    assert "Error displaying widget" not in session.page_text
    assert session.toasts == 0, "a notification toast shows over the notebook"
    assert "live handles left: 0" in session.outputs["cleanup"]
