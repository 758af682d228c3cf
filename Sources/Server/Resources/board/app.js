// The browser board: tools, pointer input, the view, cursors, the people
// in the room and the connection, on top of session.js and render.js.

import { Session } from "./session.js";
import { Renderer, paletteHex, paletteRGB } from "./render.js";
import { LIMITS, boundsOf, isSingleCell, rectOfCorners, undoState } from "./model.js";
import { idString } from "./wire.js";

const params = new URLSearchParams(location.search);
const room = params.get("room") || "lobby";
const token = params.get("token") || "";
const wantViewer = params.has("view");
const COLORS = [15, 9, 208, 11, 10, 14, 39, 12, 13, 141, 244, 52];
const $ = (id) => document.getElementById(id);

function defaultName() {
  const saved = localStorage.getItem("scuttleboard-name");
  if (saved) return saved;
  const name = `guest-${Math.floor(Math.random() * 9000 + 1000)}`;
  localStorage.setItem("scuttleboard-name", name);
  return name;
}
const name = (params.get("name") || defaultName()).slice(0, 32);

const canvas = $("board");
const stage = $("stage");
const renderer = new Renderer(canvas);
const metrics = { firstPaint: null, remoteVisible: [], frames: 0 };

const ui = {
  tool: "freehand",
  color: COLORS[Math.abs(hash(name)) % COLORS.length],
  filled: false,
  selected: null,
  gesture: null,
  hover: null,
  spaceHeld: false,
};

function hash(text) { let h = 0; for (const c of text) h = (h * 31 + c.codePointAt(0)) | 0; return h; }
function clampCoordinate(value) { return Math.max(-LIMITS.maxCoordinate, Math.min(LIMITS.maxCoordinate, value)); }

// MARK: Start

$("room-name").value = room;
$("empty-room").textContent = room;
$("room-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const next = $("room-name").value.trim();
  if (next && next !== room) { params.set("room", next); location.search = params.toString(); }
});
document.title = `${room} · Scuttleboard`;

const palette = $("palette");
for (const color of COLORS) {
  const button = document.createElement("button");
  button.style.background = paletteHex(color);
  button.title = `colour ${color}`;
  button.dataset.color = color;
  button.addEventListener("click", () => chooseColor(color));
  palette.append(button);
}

const session = await Session.start({
  url: `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`, room, name, token, color: ui.color,
  wantViewer,
});
window.addEventListener("pagehide", () => session.stop());

session.addEventListener("state", showConnection);
session.addEventListener("presence", showPeople);
session.addEventListener("pending", showStatus);
session.addEventListener("notice", (event) => toast(event.detail.text));
session.addEventListener("board", (event) => {
  if (event.detail.remote && event.detail.arrived !== undefined) {
    ui.remoteArrived = Math.min(ui.remoteArrived ?? Infinity, event.detail.arrived);
  }
  requestFrame();
});
session.addEventListener("synced", () => {
  if (!ui.fitted) { ui.fitted = true; fit(); }
  ui.awaitingFirstPaint = true;
  requestFrame();
});

// MARK: Frames

let frameRequested = false;
function requestFrame() {
  if (frameRequested) return;
  frameRequested = true;
  requestAnimationFrame(frame);
}

function liveIds() {
  const live = new Set();
  if (ui.gesture?.kind === "move") live.add(ui.gesture.id);
  return live;
}

function frame() {
  frameRequested = false;
  const board = session.replica.board;
  const live = liveIds();
  renderer.absorb(board, session.replica.takeChanges());
  const offsets = ui.gesture?.kind === "move" ? new Map([[ui.gesture.id, ui.gesture.offset]]) : null;
  const drawStart = performance.now();
  renderer.draw(board, live, offsets, drawOverlay);
  metrics.lastDraw = performance.now() - drawStart;
  metrics.frames += 1;
  const now = performance.now();
  if (ui.remoteArrived !== undefined && ui.remoteArrived !== Infinity) {
    metrics.remoteVisible.push(now - ui.remoteArrived);
    if (metrics.remoteVisible.length > 1000) metrics.remoteVisible.shift();
    performance.measure("scuttleboard:remote-visible", { start: ui.remoteArrived, end: now });
    ui.remoteArrived = undefined;
  }
  if (ui.awaitingFirstPaint && metrics.firstPaint === null) {
    metrics.firstPaint = now;
    metrics.firstDraw = metrics.lastDraw;
    performance.mark("scuttleboard:first-paint");
    // The page is kept for offline reloads once it has shown the board:
    // caching it earlier competes with the first paint for the network.
    if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js").catch(() => {});
  }
  ui.awaitingFirstPaint = false;
  placeCursors();
  showStatus();
}

function drawOverlay(ctx) {
  const view = renderer.view;
  const s = view.scale;
  const gesture = ui.gesture;
  if (gesture?.kind === "shape") {
    const style = currentStyle();
    const shape = gesture.shape === "line"
      ? { kind: "line", a: gesture.from, b: gesture.to }
      : { kind: gesture.shape, rect: rectOfCorners(gesture.from, gesture.to) };
    const preview = { id: "preview", shape, createdStyle: style, restyles: new Map(), offset: [0, 0], hiddenBy: new Set() };
    preview.shapeBounds = shape.kind === "line" ? rectOfCorners(shape.a, shape.b) : shape.rect;
    renderer.drawPreview(ctx, [preview]);
  }
  const selected = ui.selected && session.replica.board.elements.get(ui.selected);
  if (selected && selected.hiddenBy.size === 0) {
    const b = boundsOf(selected);
    const extra = gesture?.kind === "move" ? gesture.offset : [0, 0];
    const [x, y] = view.toScreen(b.minX + extra[0], b.minY + extra[1]);
    ctx.setLineDash([5, 4]);
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = "#38bdf8";
    ctx.strokeRect(x - s, y - s, (b.maxX - b.minX + 2) * s, (b.maxY - b.minY + 2) * s);
    ctx.setLineDash([]);
  }
  if (ui.tool === "eraser" && ui.hover) {
    const [x, y] = view.toScreen(...ui.hover);
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = "#f87171";
    ctx.beginPath();
    ctx.arc(x, y, eraserRadius() * s + s / 2, 0, Math.PI * 2);
    ctx.stroke();
  }
}

// MARK: Tools

function currentStyle() { return { brush: "solid", color: ui.color, filled: ui.filled }; }

function chooseTool(tool) {
  if (session.isViewer && tool !== "select") return;
  commitText();
  ui.tool = tool;
  if (tool !== "select") ui.selected = null;
  stage.dataset.tool = tool;
  for (const button of document.querySelectorAll("[data-tool]")) button.classList.toggle("active", button.dataset.tool === tool);
  session.setPresence({ tool });
  requestFrame();
}

function chooseColor(color) {
  ui.color = color;
  for (const button of palette.children) button.classList.toggle("active", Number(button.dataset.color) === color);
  if (ui.selected && !session.isViewer) {
    const element = session.replica.board.elements.get(ui.selected);
    if (element) session.record({ type: "restyle", element: ui.selected, style: { brush: "solid", color, filled: element.createdStyle.filled || ui.filled } });
  }
  session.setPresence({ color });
}

function toggleFill() {
  ui.filled = !ui.filled;
  $("fill").classList.toggle("active", ui.filled);
}

function undo() { if (!session.isViewer) session.record({ type: "undo" }); }
function redo() { if (!session.isViewer) session.record({ type: "redo" }); }

function fit() {
  renderer.fit(session.replica.board.visibleBounds());
  afterViewChange();
}

function afterViewChange() {
  $("zoom-level").textContent = `${Math.round(renderer.view.scale / 8 * 100)}%`;
  const v = renderer.view.visible(renderer.width ?? 0, renderer.height ?? 0);
  session.setPresence({ viewport: v });
  requestFrame();
}

for (const button of document.querySelectorAll("[data-tool]")) button.addEventListener("click", () => chooseTool(button.dataset.tool));
$("fill").addEventListener("click", toggleFill);
$("undo").addEventListener("click", undo);
$("redo").addEventListener("click", redo);
$("fit").addEventListener("click", fit);
$("zoom-in").addEventListener("click", () => { renderer.zoomAt(1.25, renderer.width / 2, renderer.height / 2); afterViewChange(); });
$("zoom-out").addEventListener("click", () => { renderer.zoomAt(0.8, renderer.width / 2, renderer.height / 2); afterViewChange(); });
$("zoom-level").addEventListener("click", () => { renderer.zoomAt(8 / renderer.view.scale, renderer.width / 2, renderer.height / 2); afterViewChange(); });
$("connection").addEventListener("click", () => session.retryNow());

// MARK: Pointer input

function boardPoint(event) {
  const rect = canvas.getBoundingClientRect();
  const [x, y] = renderer.view.toBoard(event.clientX - rect.left, event.clientY - rect.top);
  return [clampCoordinate(Math.round(x)), clampCoordinate(Math.round(y))];
}

function eraserRadius() { return Math.max(0.5, 6 / renderer.view.scale); }

/** Distance from (px, py) to the segment a–b. */
function segmentDistance(px, py, ax, ay, bx, by) {
  const [dx, dy] = [bx - ax, by - ay];
  const length = dx * dx + dy * dy;
  const t = length === 0 ? 0 : Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / length));
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

/** Whether a visible element lies within `radius` of a board point. */
function hits(element, [px, py], radius) {
  const b = boundsOf(element);
  const reach = radius + 0.5;
  if (px < b.minX - reach || px > b.maxX + reach || py < b.minY - reach || py > b.maxY + reach) return false;
  const [dx, dy] = element.offset;
  const shape = element.shape;
  switch (shape.kind) {
    case "stroke": {
      const { points, count } = shape;
      for (let p = 0; p < count; p++) {
        const [ax, ay] = [points[2 * p] + dx, points[2 * p + 1] + dy];
        const [bx, by] = p + 1 < count ? [points[2 * p + 2] + dx, points[2 * p + 3] + dy] : [ax, ay];
        if (segmentDistance(px, py, ax, ay, bx, by) <= reach) return true;
      }
      return false;
    }
    case "line": return segmentDistance(px, py, shape.a[0] + dx, shape.a[1] + dy, shape.b[0] + dx, shape.b[1] + dy) <= reach;
    case "rectangle": {
      const style = element.createdStyle;
      if (style.filled || element.restyles.size > 0) return true;
      return px <= b.minX + reach || px >= b.maxX - reach || py <= b.minY + reach || py >= b.maxY - reach;
    }
    case "ellipse": {
      const [cx, cy] = [(b.minX + b.maxX) / 2, (b.minY + b.maxY) / 2];
      const [rx, ry] = [Math.max((b.maxX - b.minX) / 2, 0.5), Math.max((b.maxY - b.minY) / 2, 0.5)];
      const r = Math.hypot((px - cx) / rx, (py - cy) / ry);
      return r <= 1 + reach / Math.min(rx, ry);
    }
    case "text": return true;
  }
  return false;
}

function elementsAt(point, radius) {
  const found = [];
  for (const element of session.replica.board.elements.values()) {
    if (element.hiddenBy.size === 0 && hits(element, point, radius)) found.push(element);
  }
  return found;
}

function topmostAt(point) {
  let best = null;
  for (const element of elementsAt(point, Math.max(0.5, 4 / renderer.view.scale))) {
    if (!best || (element.z.timestamp > best.z.timestamp || (element.z.timestamp === best.z.timestamp && element.z.origin > best.z.origin))) best = element;
  }
  return best;
}

function updateId(update) { return idString(update.origin, update.seq); }

function flushStroke() {
  const gesture = ui.gesture;
  if (gesture?.kind !== "stroke" || gesture.buffer.length === 0) return;
  while (gesture.buffer.length > 0) {
    session.record({ type: "extendStroke", stroke: gesture.id, points: gesture.buffer.splice(0, LIMITS.maxPointsPerExtend) });
  }
}

function eraseAt(point) {
  const gesture = ui.gesture;
  const fresh = elementsAt(point, eraserRadius()).map((e) => e.id).filter((id) => !gesture.erased.has(id));
  if (fresh.length === 0) return;
  for (let start = 0; start < fresh.length; start += LIMITS.maxElementsPerErase) {
    const ids = fresh.slice(start, start + LIMITS.maxElementsPerErase);
    for (const id of ids) gesture.erased.add(id);
    if (gesture.first === null) {
      gesture.first = updateId(session.record({ type: "erase", elements: ids }));
    } else {
      session.record({ type: "continueErasing", gesture: gesture.first, elements: ids });
    }
  }
  requestFrame();
}

stage.addEventListener("pointerdown", (event) => {
  if (event.target !== canvas) return;
  commitText();
  canvas.setPointerCapture(event.pointerId);
  const point = boardPoint(event);
  const panning = event.button === 1 || ui.spaceHeld || (event.button === 0 && ui.tool === "select" && !topmostAt(point));
  if (panning || event.button !== 0) {
    ui.gesture = { kind: "pan", x: event.clientX, y: event.clientY };
    if (ui.tool === "select") ui.selected = null;
    stage.classList.add("panning");
    requestFrame();
    return;
  }
  if (session.isViewer && ui.tool !== "select") return;
  switch (ui.tool) {
    case "freehand": {
      const update = session.record({ type: "beginStroke", at: point, style: currentStyle() });
      ui.gesture = { kind: "stroke", id: updateId(update), last: point, buffer: [], timer: setInterval(flushStroke, 40) };
      break;
    }
    case "line": case "rectangle": case "ellipse":
      ui.gesture = { kind: "shape", shape: ui.tool, from: point, to: point };
      break;
    case "text": openText(point); break;
    case "eraser":
      ui.gesture = { kind: "erase", first: null, erased: new Set() };
      eraseAt(point);
      break;
    case "select": {
      const element = topmostAt(point);
      ui.selected = element.id;
      if (!session.isViewer) ui.gesture = { kind: "move", id: element.id, from: point, offset: [0, 0] };
      renderer.invalidate();
      break;
    }
  }
  requestFrame();
});

stage.addEventListener("pointermove", (event) => {
  const point = boardPoint(event);
  ui.hover = point;
  session.setPresence({ cursor: point });
  const gesture = ui.gesture;
  if (!gesture) { if (ui.tool === "eraser") requestFrame(); return; }
  switch (gesture.kind) {
    case "pan":
      renderer.panBy(event.clientX - gesture.x, event.clientY - gesture.y);
      [gesture.x, gesture.y] = [event.clientX, event.clientY];
      afterViewChange();
      break;
    case "stroke":
      for (const sample of event.getCoalescedEvents?.() ?? [event]) {
        const p = boardPoint(sample);
        if (p[0] === gesture.last[0] && p[1] === gesture.last[1]) continue;
        gesture.buffer.push(p);
        gesture.last = p;
        if (gesture.buffer.length >= LIMITS.maxPointsPerExtend) flushStroke();
      }
      break;
    case "shape": gesture.to = point; requestFrame(); break;
    case "erase": eraseAt(point); break;
    case "move": gesture.offset = [point[0] - gesture.from[0], point[1] - gesture.from[1]]; requestFrame(); break;
  }
});

function endGesture() {
  const gesture = ui.gesture;
  ui.gesture = null;
  stage.classList.remove("panning");
  if (!gesture) return;
  switch (gesture.kind) {
    case "stroke":
      clearInterval(gesture.timer);
      ui.gesture = gesture;
      flushStroke();
      ui.gesture = null;
      session.record({ type: "endStroke", stroke: gesture.id });
      break;
    case "shape":
      session.record({ type: "addShape", shape: gesture.shape, from: gesture.from, to: gesture.to, style: currentStyle() });
      break;
    case "move":
      if (gesture.offset[0] !== 0 || gesture.offset[1] !== 0) session.record({ type: "move", element: gesture.id, by: gesture.offset });
      renderer.invalidate();
      break;
  }
  requestFrame();
}
stage.addEventListener("pointerup", endGesture);
stage.addEventListener("pointercancel", endGesture);
stage.addEventListener("pointerleave", () => { ui.hover = null; session.setPresence({ cursor: null }); requestFrame(); });

stage.addEventListener("wheel", (event) => {
  event.preventDefault();
  const rect = canvas.getBoundingClientRect();
  if (event.ctrlKey || event.metaKey) {
    renderer.zoomAt(Math.exp(-event.deltaY * 0.0025), event.clientX - rect.left, event.clientY - rect.top);
  } else {
    renderer.panBy(-event.deltaX, -event.deltaY);
  }
  afterViewChange();
}, { passive: false });

// MARK: Text

const textEntry = $("text-entry");
function openText(point) {
  ui.textAt = point;
  const [x, y] = renderer.view.toScreen(point[0] - 0.5, point[1] - 0.5);
  const s = renderer.view.scale;
  Object.assign(textEntry.style, { left: `${x}px`, top: `${y}px`, height: `${2 * s}px`, fontSize: `${1.6 * s}px`, color: paletteHex(ui.color) });
  textEntry.value = "";
  textEntry.hidden = false;
  setTimeout(() => textEntry.focus(), 0);
}
function commitText() {
  if (textEntry.hidden) return;
  textEntry.hidden = true;
  const characters = [...textEntry.value];
  const kept = characters.filter(isSingleCell).slice(0, LIMITS.maxTextLength);
  if (kept.length < characters.length) toast("left out characters a terminal cell cannot show");
  const text = kept.join("");
  if (text.trim().length > 0) session.record({ type: "addText", at: ui.textAt, text, style: currentStyle() });
  textEntry.value = "";
  requestFrame();
}
textEntry.addEventListener("keydown", (event) => {
  if (event.key === "Enter") { event.preventDefault(); commitText(); }
  if (event.key === "Escape") { textEntry.value = ""; commitText(); }
  event.stopPropagation();
});
textEntry.addEventListener("blur", commitText);

// MARK: Keys

const KEY_TOOLS = { v: "select", p: "freehand", l: "line", r: "rectangle", o: "ellipse", t: "text", e: "eraser" };
window.addEventListener("keydown", (event) => {
  if (event.target instanceof HTMLInputElement) return;
  const key = event.key.toLowerCase();
  if ((event.ctrlKey || event.metaKey) && key === "z") { event.preventDefault(); if (event.shiftKey) redo(); else undo(); return; }
  if ((event.ctrlKey || event.metaKey) && key === "y") { event.preventDefault(); redo(); return; }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.key === " ") { ui.spaceHeld = true; event.preventDefault(); return; }
  if (KEY_TOOLS[key]) { chooseTool(KEY_TOOLS[key]); return; }
  if (key === "f") { toggleFill(); return; }
  if (event.key === "!" || (event.shiftKey && event.code === "Digit1")) { fit(); return; }
  if (key === "+" || key === "=") { renderer.zoomAt(1.25, renderer.width / 2, renderer.height / 2); afterViewChange(); return; }
  if (key === "-") { renderer.zoomAt(0.8, renderer.width / 2, renderer.height / 2); afterViewChange(); return; }
  if (key === "0") { renderer.zoomAt(8 / renderer.view.scale, renderer.width / 2, renderer.height / 2); afterViewChange(); return; }
  if ((event.key === "Delete" || event.key === "Backspace") && ui.selected && !session.isViewer) {
    session.record({ type: "delete", element: ui.selected });
    ui.selected = null;
    requestFrame();
  }
  if (event.key === "Escape") { ui.selected = null; requestFrame(); }
});
window.addEventListener("keyup", (event) => { if (event.key === " ") ui.spaceHeld = false; });
window.addEventListener("resize", () => { renderer.invalidate(); afterViewChange(); });

// MARK: People, cursors, status

const cursorElements = new Map();
/** Text that reads on a background of palette colour `index`. */
function inkOn(index) {
  const [r, g, b] = paletteRGB(index);
  return 0.299 * r + 0.587 * g + 0.114 * b > 140 ? "#0b0d12" : "#ffffff";
}

function placeCursors() {
  const layer = $("cursors");
  const seen = new Set();
  for (const [origin, presence] of session.presences) {
    if (!presence.cursor) continue;
    seen.add(origin);
    let element = cursorElements.get(origin);
    if (!element) {
      element = document.createElement("div");
      element.className = "cursor";
      element.innerHTML = '<svg viewBox="0 0 18 18"><path d="M1 1l6 15 2.2-6.3L15.5 7.5z" stroke="#000" stroke-width="1"/></svg><span></span>';
      layer.append(element);
      cursorElements.set(origin, element);
    }
    const color = paletteHex(presence.color);
    element.querySelector("path").setAttribute("fill", color);
    const label = element.querySelector("span");
    label.textContent = `${presence.name} · ${presence.tool}`;
    label.style.background = color;
    label.style.color = inkOn(presence.color);
    const [x, y] = renderer.view.toScreen(...presence.cursor);
    element.style.transform = `translate(${x}px, ${y}px)`;
  }
  for (const [origin, element] of cursorElements) {
    if (!seen.has(origin)) { element.remove(); cursorElements.delete(origin); }
  }
}

function showPeople() {
  const people = $("people");
  people.replaceChildren();
  const everyone = [{ name: `${name} (you)`, color: ui.color, me: true }, ...[...session.presences.values()]];
  for (const person of everyone.slice(0, 8)) {
    const avatar = document.createElement("div");
    avatar.className = person.me ? "avatar me" : "avatar";
    avatar.style.background = paletteHex(person.color);
    avatar.style.color = inkOn(person.color);
    avatar.textContent = (person.name.match(/[\p{L}\p{N}]/u)?.[0] ?? "?").toUpperCase();
    avatar.title = person.name;
    people.append(avatar);
  }
  const more = document.createElement("span");
  more.className = "more";
  more.textContent = everyone.length > 8 ? `+${everyone.length - 8} · ${everyone.length} online` : `${everyone.length} online`;
  people.append(more);
  placeCursors();
  requestFrame();
}

function showConnection() {
  const pill = $("connection");
  pill.dataset.state = session.state;
  const rtt = session.rtt === null ? "" : ` · ${Math.max(1, Math.round(session.rtt))} ms`;
  let text;
  switch (session.state) {
    case "live": text = `live${rtt}`; break;
    case "viewing": text = `viewing${rtt}`; break;
    case "connecting": text = "connecting…"; break;
    case "offline": {
      const seconds = Math.max(0, Math.ceil((session.retryAt - performance.now()) / 1000));
      text = `offline · retrying in ${seconds} s`;
      break;
    }
    case "refused": text = `refused: ${session.detail}`; break;
    default: text = session.state;
  }
  $("connection-text").textContent = text;
  pill.title = session.detail || text;
  document.body.classList.toggle("viewer", session.isViewer);
  $("view-only").hidden = !session.isViewer;
  if (session.isViewer && ui.tool !== "select") chooseTool("select");
}
setInterval(() => { if (session.state === "offline") showConnection(); }, 1000);

function showStatus() {
  const board = session.replica.board;
  let visible = 0;
  for (const element of board.elements.values()) if (element.hiddenBy.size === 0) visible += 1;
  $("counts").textContent = `${visible.toLocaleString()} element${visible === 1 ? "" : "s"}`;
  const pending = session.pendingCount;
  const pendingLabel = $("pending");
  pendingLabel.hidden = pending === 0;
  pendingLabel.textContent = `${pending} change${pending === 1 ? "" : "s"} not yet saved on the server`;
  $("empty").hidden = visible > 0 || !session.synced;
  const { canUndo, canRedo } = undoState(board, session.peer);
  $("undo").disabled = !canUndo;
  $("redo").disabled = !canRedo;
}

function toast(text) {
  const element = document.createElement("div");
  element.className = "toast";
  element.textContent = text;
  $("toasts").append(element);
  setTimeout(() => element.remove(), 5000);
}

chooseTool(session.isViewer ? "select" : "freehand");
chooseColor(ui.color);
showConnection();
showPeople();
requestFrame();

/** For people poking at the page and for the browser tests. */
window.scuttleboard = {
  session,
  renderer,
  metrics,
  exportJSON: () => session.replica.board.exportJSON(),
  fit,
  viewToScreen: (x, y) => {
    const rect = canvas.getBoundingClientRect();
    const [sx, sy] = renderer.view.toScreen(x, y);
    return [rect.left + sx, rect.top + sy];
  },
};
document.body.dataset.ready = "true";
