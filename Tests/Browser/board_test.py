#!/usr/bin/env python3
"""The browser board in a real browser (Chromium, driven by Selenium).

Starts `scuttleboard serve` on a fresh SQLite file, opens the board in
headless Chromium and, as a person would, with pointer actions and keys:

1. draws a stroke, a rectangle and a text, and checks that the server's JSON
   export (`GET /rooms/ROOM/board.json`) holds them;
2. compares a screenshot of the canvas with a golden render
   (Fixtures/browser/canvas.png): at most 0.5% of pixels may differ by more
   than 64 in any channel (anti-aliasing and font hinting differ a little
   between Chromium builds; a missing or moved element differs by far more);
3. starts a terminal `draw` client in tmux and checks that its screen shows
   them;
4. stops the server, draws while offline, reloads the page (the service
   worker serves it, IndexedDB holds what waits), checks the drawing is still
   there, restarts the server and checks that everything reached it;
5. watches six bots draw, erase, undo and delete in another room, and checks
   that the page's board (its own JavaScript reducer) ends equal to the
   server's (the Swift one).

Run by BrowserBoardTests in `swift test`; by hand:
`Scripts/install-browser-tests.sh && .build/browser-venv/bin/python
Tests/Browser/board_test.py --binary .build/debug/scuttleboard`.
`--update-golden` rewrites the golden render; `--measure` instead measures the
budgets (first paint of a 10,000-element board, remote stroke latency).
Screenshots, the page's console and the server's log of a failed run are kept
in --artifacts.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
import zlib

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.actions.pointer_input import PointerInput
from selenium.webdriver.common.actions import interaction
from selenium.webdriver.common.by import By

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
GOLDEN = os.path.join(ROOT, "Fixtures", "browser", "canvas.png")
CHANNEL_TOLERANCE = 64
PIXEL_FRACTION = 0.005


def say(text):
    print(text, flush=True)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(predicate, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as error:  # the page may be reloading
            last = error
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


class Server:
    """`scuttleboard serve` on fixed ports and a SQLite file, restartable."""

    def __init__(self, binary, workdir, extra=()):
        self.binary = binary
        self.port = free_port()
        self.http_port = free_port()
        self.db = os.path.join(workdir, "board.sqlite")
        self.log_path = os.path.join(workdir, "server.log")
        self.extra = list(extra)
        self.process = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.http_port}"

    def start(self):
        log = open(self.log_path, "a")
        self.process = subprocess.Popen(
            [self.binary, "serve", "--port", str(self.port), "--http-port", str(self.http_port), "--db", self.db]
            + self.extra,
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_until(lambda: self.get("/healthz") == b"ok\n", 20, "the server's /healthz")

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=5) as response:
            return response.read()

    def board(self, room):
        return json.loads(self.get(f"/rooms/{room}/board.json"))

    def board_with(self, room, token):
        request = urllib.request.Request(f"{self.url}/rooms/{room}/board.json",
                                         headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


class Tmux:
    """A tmux server of its own running one terminal program."""

    def __init__(self, name):
        self.socket = f"scuttleboard-test-{name}-{os.getpid()}"

    def run(self, command):
        subprocess.run(["tmux", "-L", self.socket, "new-session", "-d", "-x", "120", "-y", "36",
                        "env TERM=xterm-256color " + command], check=True)

    def screen(self):
        return subprocess.run(["tmux", "-L", self.socket, "capture-pane", "-p"], capture_output=True,
                              text=True).stdout

    def stop(self):
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


def make_driver():
    options = webdriver.ChromeOptions()
    for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,800", "--force-device-scale-factor=1", "--hide-scrollbars",
                     "--font-render-hinting=none", "--disable-features=Translate", "--no-proxy-server"]:
        options.add_argument(argument)
    binary = shutil.which("chromium")
    if binary:
        options.binary_location = binary
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)


class Page:
    """The board page, driven as a person would."""

    def __init__(self, driver, server, room, name):
        self.driver = driver
        self.server = server
        self.room = room
        self.name = name
        self.console = []

    def open(self, token=None):
        token = f"&token={token}" if token else ""
        self.driver.get(f"{self.server.url}/?room={self.room}&name={self.name}{token}")
        wait_until(lambda: self.js("return document.body.dataset.ready === 'true'"), 15, "the page to start")

    def js(self, script, *arguments):
        return self.driver.execute_script(script, *arguments)

    def state(self):
        return self.js("return window.scuttleboard.session.state")

    def wait_live(self, timeout=20):
        wait_until(lambda: self.js("const s = window.scuttleboard?.session; return s && s.state === 'live' && s.synced"),
                   timeout, "the page to be live and synced")

    def fixed_view(self):
        """A view that does not depend on what is on the board."""
        self.js("const r = window.scuttleboard.renderer; r.view = new r.view.constructor(-4, -4, 8); r.invalidate();"
                "window.scuttleboard.session.dispatchEvent(new CustomEvent('board', {detail: {}}));")

    def screen_point(self, x, y):
        sx, sy = self.js("return window.scuttleboard.viewToScreen(arguments[0], arguments[1])", x, y)
        return int(round(sx)), int(round(sy))

    def key(self, keys):
        self.driver.find_element(By.TAG_NAME, "body").send_keys(keys)

    def drag(self, points, steps=6):
        """Presses at the first board point, moves through the others, releases."""
        mouse = PointerInput(interaction.POINTER_MOUSE, "mouse")
        actions = ActionBuilder(self.driver, mouse=mouse, duration=10)
        start = self.screen_point(*points[0])
        actions.pointer_action.move_to_location(*start).pointer_down()
        previous = start
        for point in points[1:]:
            target = self.screen_point(*point)
            for step in range(1, steps + 1):
                x = previous[0] + (target[0] - previous[0]) * step // steps
                y = previous[1] + (target[1] - previous[1]) * step // steps
                actions.pointer_action.move_to_location(x, y)
            previous = target
        actions.pointer_action.pointer_up()
        actions.perform()

    def click(self, x, y):
        self.drag([(x, y)])

    def hover(self, x, y):
        actions = ActionBuilder(self.driver, mouse=PointerInput(interaction.POINTER_MOUSE, "mouse"), duration=10)
        actions.pointer_action.move_to_location(*self.screen_point(x, y))
        actions.perform()

    def type_text(self, text):
        entry = self.driver.find_element(By.ID, "text-entry")
        wait_until(lambda: entry.is_displayed(), 5, "the text entry")
        entry.send_keys(text + "\n")

    def board(self):
        return self.js("return window.scuttleboard.exportJSON()")

    def pending(self):
        return self.js("return window.scuttleboard.session.pendingCount")

    def keep_console(self):
        try:
            self.console += [f"{e['level']} {e['message']}" for e in self.driver.get_log("browser")]
        except Exception:
            pass


def kinds(board):
    return sorted(element["kind"] for element in board["elements"])


def texts(board):
    return sorted(element["text"] for element in board["elements"] if element["kind"] == "text")


# MARK: PNG, decoded here (no imaging library needed)

def decode_png(data):
    """Width, height and RGBA rows of an 8-bit, non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, chunks, header = 8, [], None
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        position += 12 + length
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and interlace == 0 and color in (2, 6), f"unsupported PNG (depth {depth}, colour {color})"
    channels = 4 if color == 6 else 3
    raw = zlib.decompress(b"".join(chunks))
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + predictor) & 0xFF
        rows.append(bytes(line) if channels == 4 else bytes(
            b for x in range(width) for b in (*line[x * 3:x * 3 + 3], 255)))
        previous = line
    return width, height, rows


def differing_fraction(actual, golden):
    (aw, ah, arows), (gw, gh, grows) = actual, golden
    if (aw, ah) != (gw, gh):
        return 1.0
    differing = 0
    for arow, grow in zip(arows, grows):
        for x in range(0, len(arow), 4):
            if max(abs(arow[x + c] - grow[x + c]) for c in range(3)) > CHANNEL_TOLERANCE:
                differing += 1
    return differing / (aw * ah)


# MARK: The test

def run_test(args, workdir, artifacts):
    server = Server(args.binary, workdir, extra=["--token", "locked=edit-key:peek-key"])
    driver = None
    tmux = Tmux("browser")
    page = None
    step = "starting"
    try:
        server.start()
        driver = make_driver()
        room = "browser-test"
        page = Page(driver, server, room, "tester")
        page.open()
        page.wait_live()
        page.fixed_view()

        step = "drawing a stroke, a rectangle and a text"
        say(f"== {step}")
        page.key("p")
        page.drag([(10, 10), (20, 16), (30, 10), (40, 16)])
        page.key("r")
        page.drag([(50, 6), (70, 18)])
        page.key("t")
        page.click(10, 24)
        page.type_text("hello web")
        wait_until(lambda: kinds(page.board()) == ["rectangle", "stroke", "text"], 5, "the page's own board")

        step = "the server's JSON export"
        say(f"== {step}")
        exported = wait_until(lambda: (lambda b: b if kinds(b) == ["rectangle", "stroke", "text"] else None)(
            server.board(room)), 10, "the server to hold all three")
        stroke = next(e for e in exported["elements"] if e["kind"] == "stroke")
        rectangle = next(e for e in exported["elements"] if e["kind"] == "rectangle")
        assert stroke["points"][0] == [10, 10] and stroke["points"][-1] == [40, 16], stroke["points"]
        assert len(stroke["points"]) >= 4 and stroke["open"] is False, stroke
        assert rectangle["rect"] == [50, 6, 70, 18], rectangle
        assert texts(exported) == ["hello web"], texts(exported)
        assert next(e for e in exported["elements"] if e["kind"] == "text")["at"] == [10, 24]
        wait_until(lambda: page.pending() == 0, 5, "every update to be acknowledged")
        say(f"   the server holds {kinds(exported)}; stroke of {len(stroke['points'])} points")

        step = "a screenshot of the canvas against the golden render"
        say(f"== {step}")
        time.sleep(0.3)
        shot = driver.find_element(By.ID, "board").screenshot_as_png
        with open(os.path.join(artifacts, "canvas.png"), "wb") as file:
            file.write(shot)
        if args.update_golden:
            os.makedirs(os.path.dirname(GOLDEN), exist_ok=True)
            with open(GOLDEN, "wb") as file:
                file.write(shot)
            say(f"   wrote {GOLDEN}")
        with open(GOLDEN, "rb") as file:
            fraction = differing_fraction(decode_png(shot), decode_png(file.read()))
        say(f"   {fraction:.4%} of pixels differ by more than {CHANNEL_TOLERANCE} (at most {PIXEL_FRACTION:.1%})")
        assert fraction <= PIXEL_FRACTION, f"the canvas differs from the golden render in {fraction:.2%} of pixels"

        step = "a terminal client in tmux"
        say(f"== {step}")
        page.hover(100, 40)  # the page's cursor, shown in the terminal, away from the text
        tmux.run(f"{args.binary} draw --server 127.0.0.1:{server.port} --room {room} --name term --no-local-db")
        try:
            screen = wait_until(lambda: (lambda s: s if "hello web" in s else None)(tmux.screen()), 15,
                                "the terminal to show the text")
        finally:
            with open(os.path.join(artifacts, "terminal.txt"), "w") as file:
                file.write(tmux.screen())
        marks = sum(screen.count(c) for c in "▀▄█")
        assert marks >= 20, f"the terminal shows only {marks} block characters:\n{screen}"
        say(f"   the terminal shows 'hello web' and {marks} block characters")
        wait_until(lambda: page.js("return window.scuttleboard.session.presences.size") >= 1, 10,
                   "the terminal client among the people online")
        tmux.stop()

        step = "drawing offline, then a reload"
        say(f"== {step}")
        page.js("return navigator.serviceWorker.ready.then(() => true)")
        wait_until(lambda: page.js("return !!navigator.serviceWorker.controller") or page.js(
            "return navigator.serviceWorker.getRegistration().then(r => !!(r && r.active))"), 10, "the service worker")
        server.stop()
        wait_until(lambda: page.state() == "offline", 15, "the page to notice the server is gone")
        page.key("p")
        page.drag([(10, 34), (25, 40), (40, 34)])
        page.key("t")
        page.click(10, 44)
        page.type_text("drawn offline")
        waiting = page.pending()
        assert waiting >= 3, f"only {waiting} updates wait"
        say(f"   {waiting} updates wait in IndexedDB; reloading with the server down")
        driver.refresh()
        wait_until(lambda: page.js("return document.body.dataset.ready === 'true'"), 15, "the page to load offline")
        page.fixed_view()
        offline_board = page.board()
        assert texts(offline_board) == ["drawn offline", "hello web"], f"after the reload: {texts(offline_board)}"
        assert kinds(offline_board) == ["rectangle", "stroke", "stroke", "text", "text"], kinds(offline_board)
        assert page.pending() == waiting, f"{page.pending()} updates wait after the reload, {waiting} before"
        shot = driver.get_screenshot_as_png()
        with open(os.path.join(artifacts, "offline-after-reload.png"), "wb") as file:
            file.write(shot)

        step = "back online"
        say(f"== {step}")
        server.start()
        wait_until(lambda: page.pending() == 0, 30, "the waiting updates to reach the server")
        final = wait_until(lambda: (lambda b: b if len(b["elements"]) == 5 else None)(server.board(room)), 10,
                           "the server to hold all five elements")
        assert texts(final) == ["drawn offline", "hello web"], texts(final)
        assert kinds(final) == ["rectangle", "stroke", "stroke", "text", "text"], kinds(final)
        mine = page.board()
        for element in final["elements"]:
            element.pop("hex", None)
        assert mine == final, "the page's board differs from the server's"
        say("   the server holds all five elements, equal to the page's board")
        driver.save_screenshot(os.path.join(artifacts, "page.png"))

        step = "tokens: a viewer token opens the board read-only, a wrong one is refused by name"
        say(f"== {step}")
        editor = Page(driver, server, "locked", "keeper")
        editor.open("edit-key")
        editor.wait_live()
        editor.fixed_view()
        editor.key("r")
        editor.drag([(2, 2), (12, 8)])
        wait_until(lambda: kinds(server.board_with("locked", "peek-key")) == ["rectangle"], 10, "the editor's rectangle")
        viewer = Page(driver, server, "locked", "looker")
        viewer.open("peek-key")
        wait_until(lambda: viewer.state() == "viewing", 15, "the page to open read-only")
        assert viewer.js("return !document.getElementById('view-only').hidden"), "no 'view only' badge"
        assert not viewer.driver.find_element(By.CSS_SELECTOR, "[data-tool='freehand']").is_displayed(), "pen shown"
        wait_until(lambda: kinds(viewer.board()) == ["rectangle"], 10, "the viewer to see the board")
        viewer.fixed_view()
        viewer.key("p")
        viewer.drag([(20, 20), (30, 25)])
        viewer.key("\ue017")  # Delete
        time.sleep(0.5)
        assert viewer.pending() == 0, "a viewer recorded something"
        assert kinds(server.board_with("locked", "peek-key")) == ["rectangle"], "a viewer changed the board"
        wrong = Page(driver, server, "locked", "stranger")
        wrong.open("not-the-key")
        wait_until(lambda: wrong.state() == "refused", 15, "the wrong token to be refused")
        said = wrong.js("return document.getElementById('connection-text').textContent")
        assert "unauthorized" in said and "token" in said, said
        say(f"   viewer: read-only, sees the rectangle; wrong token: '{said}'")

        step = "watching a swarm: the page's reducer against the server's"
        say(f"== {step}")
        watcher = Page(driver, server, "swarm-0", "watcher")
        watcher.open()
        watcher.wait_live()
        swarm = subprocess.run([args.binary, "swarm", "--server", f"127.0.0.1:{server.port}", "--bots", "6",
                                "--rooms", "1", "--duration", "8s", "--keep", "5"], capture_output=True, text=True)
        assert swarm.returncode == 0, swarm.stdout + swarm.stderr

        def agree():
            theirs = server.board("swarm-0")
            for element in theirs["elements"]:
                element.pop("hex", None)
            return theirs if theirs == watcher.board() and theirs["elements"] else None
        settled = wait_until(agree, 10, "the page's board to equal the server's after the swarm")
        rewinds = watcher.js("return window.scuttleboard.session.replica.rewinds")
        say(f"   {len(settled['elements'])} elements, equal on both sides; the page rewound {rewinds} times")
        say("browser test: passed")
        return 0
    except BaseException:
        say(f"FAILED while {step}:")
        traceback.print_exc(file=sys.stdout)
        if driver:
            try:
                driver.save_screenshot(os.path.join(artifacts, "failure.png"))
                say(f"   screenshot: {os.path.join(artifacts, 'failure.png')}")
            except Exception:
                pass
        return 1
    finally:
        if page:
            page.keep_console()
            with open(os.path.join(artifacts, "console.log"), "w") as file:
                file.write("\n".join(page.console))
        if driver:
            driver.quit()
        tmux.stop()
        server.stop()
        if os.path.exists(server.log_path):
            shutil.copy(server.log_path, os.path.join(artifacts, "server.log"))


# MARK: Budgets

SEED_BOARD = """
const [count, done] = arguments;
const s = window.scuttleboard.session;
const style = (c) => ({ brush: "solid", color: c, filled: false });
let x = 0, y = 0;
for (let i = 0; i < count; i++) {
  x = (i * 37) % 400; y = Math.floor(i / 400) * 6 + (i % 7);
  if (i % 2 === 0) {
    const begin = s.record({ type: "beginStroke", at: [x, y], style: style(9 + i % 6) });
    const id = begin.origin + "#" + begin.seq;
    const points = [];
    for (let p = 1; p <= 8; p++) points.push([x + p, y + (p % 3)]);
    s.record({ type: "extendStroke", stroke: id, points });
    s.record({ type: "endStroke", stroke: id });
  } else if (i % 5 === 1) {
    s.record({ type: "addText", at: [x, y], text: "note " + i, style: style(15) });
  } else {
    s.record({ type: "addShape", shape: i % 3 ? "rectangle" : "ellipse", from: [x, y], to: [x + 6, y + 4], style: style(39 + i % 5) });
  }
}
done(true);
"""


def run_measure(args, workdir):
    server = Server(args.binary, workdir, extra=["--rate-limit", "100000"])
    driver = None
    try:
        server.start()
        driver = make_driver()
        room = "swarm-0"
        page = Page(driver, server, room, "seeder")
        page.open()
        page.wait_live()
        say("seeding a board of 10,000 elements…")
        driver.set_script_timeout(120)
        driver.execute_async_script(SEED_BOARD, 10000)
        wait_until(lambda: page.pending() == 0, 180, "the seed to reach the server", interval=0.5)
        total = len(server.board(room)["elements"])
        assert total == 10000, total
        driver.quit()
        driver = None
        stages = "return performance.getEntriesByType('mark').filter(m => m.name.startsWith('scuttleboard:'))" \
                 ".map(m => m.name.slice(13) + ' ' + Math.round(m.startTime)).join(', ')"
        first_paint = "return performance.getEntriesByName('scuttleboard:first-paint')[0]?.startTime"
        fresh, returning = [], []
        for run in range(5):
            # A first visit (a browser of its own), then the same browser again.
            driver = make_driver()
            for visits in (fresh, returning):
                page = Page(driver, server, room, f"viewer{run}")
                page.open()
                page.wait_live(60)
                visits.append(wait_until(lambda: page.js(first_paint), 30, "first paint"))
                shown = page.js("return window.scuttleboard.exportJSON().elements.length")
                assert shown == 10000, shown
                received = page.js("const s = window.scuttleboard.session.stats; "
                                   "return `${s.snapshots} snapshot(s), ${s.received} updates`")
                say(f"   load {run + 1}: {page.js(stages)}; first draw "
                    f"{page.js('return window.scuttleboard.metrics.firstDraw'):.0f} ms; received {received}")
            if run < 4:
                driver.quit()
                driver = None
        for label, paints in (("a first visit", fresh), ("a returning visit", returning)):
            say(f"first paint of a 10,000-element board, {label}, ms from navigation start (5 loads): "
                f"median {statistics.median(paints):.0f}, min {min(paints):.0f}, max {max(paints):.0f}")
        page.js("performance.clearMeasures('scuttleboard:remote-visible')")
        rebuilds = page.js("return window.scuttleboard.renderer.rebuilds")
        swarm = subprocess.run([args.binary, "swarm", "--server", f"127.0.0.1:{server.port}", "--bots", "4",
                                "--rooms", "1", "--duration", "15s", "--behaviors", "scribbler,shapes,text,scribbler"],
                               capture_output=True, text=True)
        assert swarm.returncode == 0, swarm.stdout + swarm.stderr
        latencies = sorted(page.js(
            "return performance.getEntriesByName('scuttleboard:remote-visible').map(e => e.duration)"))
        assert latencies, "no remote update was measured"
        p95 = latencies[int(len(latencies) * 0.95)]
        rebuilds = page.js("return window.scuttleboard.renderer.rebuilds") - rebuilds
        say(f"remote update visible after it reaches the page, ms ({len(latencies)} frames, 4 bots, 15 s, "
            f"10,000-element board): median {statistics.median(latencies):.1f}, p95 {p95:.1f}, max {latencies[-1]:.1f}; "
            f"the cached layer was redrawn whole {rebuilds} times")
        return 0
    finally:
        if driver:
            driver.quit()
        server.stop()


def make_screenshot(args, workdir):
    """The README's picture: the board in a browser while bots draw, with their cursors."""
    server = Server(args.binary, workdir)
    driver = None
    swarm = None
    try:
        server.start()
        driver = make_driver()
        page = Page(driver, server, "swarm-0", "you")
        page.open()
        page.wait_live()
        swarm = subprocess.Popen([args.binary, "swarm", "--server", f"127.0.0.1:{server.port}", "--bots", "6",
                                  "--rooms", "1", "--duration", "20s", "--keep", "4"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(8)
        page.js("window.scuttleboard.fit()")
        time.sleep(1)
        driver.save_screenshot(args.screenshot)
        say(f"wrote {args.screenshot}")
        return 0
    finally:
        if swarm:
            swarm.send_signal(signal.SIGINT)
            swarm.wait()
        if driver:
            driver.quit()
        server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", required=True, help="the scuttleboard executable")
    parser.add_argument("--artifacts", default=os.path.join(ROOT, ".build", "browser-artifacts"),
                        help="where screenshots, the console and the server log go")
    parser.add_argument("--update-golden", action="store_true", help="rewrite Fixtures/browser/canvas.png")
    parser.add_argument("--measure", action="store_true", help="measure the browser budgets instead")
    parser.add_argument("--screenshot", metavar="PNG", help="instead, save the page with bots drawing (the README's)")
    args = parser.parse_args()
    args.binary = os.path.abspath(args.binary)
    os.makedirs(args.artifacts, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="scuttleboard-browser-")
    try:
        if args.screenshot:
            return make_screenshot(args, workdir)
        if args.measure:
            return run_measure(args, workdir)
        return run_test(args, workdir, args.artifacts)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
