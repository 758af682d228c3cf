// The board and its reducer (a port of Sources/Whiteboard/BoardReducer.swift,
// with the undo rules of docs/UNDO.md), and the replica that keeps the
// board's updates in the total order (timestamp, origin), rewinding to a
// checkpoint and replaying when an update arrives out of order.
//
// Elements are copied on write: a board owns the elements stamped with its
// `owner` token and copies any other before changing it, so a checkpoint
// shares every element the live board has not touched since. A stroke's
// points are an append-only array shared between copies; each copy reads
// only its first `count` points.

import { compareIds, compareKeys, idString, parseId } from "./wire.js";

export const LIMITS = {
  maxCoordinate: 1 << 24, maxPointsPerExtend: 16, maxPointsPerStroke: 20000, maxTextLength: 500,
  maxElementsPerErase: 1024, undoDepth: 500,
};

// MARK: Undo history: two persistent stacks (docs/UNDO.md)

function node(record, below) {
  const height = (below ? below.height : 0) + 1;
  const next = below ? below.jump : null;
  const afterNext = next ? next.jump : null;
  const h = (n) => (n ? n.height : 0);
  const jump = below && h(below) - h(next) === h(next) - h(afterNext) ? afterNext : below;
  return { record, height, below, jump };
}
function nodeAtHeight(top, target) {
  let current = top;
  while (current && current.height > target) {
    current = current.jump && current.jump.height >= target ? current.jump : current.below;
  }
  return current && current.height === target ? current : null;
}
const EMPTY_HISTORY = Object.freeze({ done: null, undone: null, floor: 0 });

function undoable(history) {
  const records = [];
  for (let n = history.done; n && n.height > history.floor; n = n.below) records.push(n.record);
  return records;
}
function redoable(history) {
  const records = [];
  for (let n = history.undone; n; n = n.below) records.push(n.record);
  return records;
}
function historyFrom(undoRecords, redoRecords) {
  let done = null, undone = null;
  for (let i = undoRecords.length - 1; i >= 0; i--) done = node(undoRecords[i], done);
  for (let i = redoRecords.length - 1; i >= 0; i--) undone = node(redoRecords[i], undone);
  return { done, undone, floor: 0 };
}

// MARK: Geometry

export function rectOfCorners([ax, ay], [bx, by]) {
  return { minX: Math.min(ax, bx), minY: Math.min(ay, by), maxX: Math.max(ax, bx), maxY: Math.max(ay, by) };
}
function shapeBounds(shape) {
  switch (shape.kind) {
    case "stroke": {
      let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
      for (let p = 0; p < shape.count; p++) {
        const x = shape.points[2 * p], y = shape.points[2 * p + 1];
        if (x < minX) minX = x;
        if (x > maxX) maxX = x;
        if (y < minY) minY = y;
        if (y > maxY) maxY = y;
      }
      return shape.count === 0 ? { minX: 0, minY: 0, maxX: 0, maxY: 0 } : { minX, minY, maxX, maxY };
    }
    case "line": return rectOfCorners(shape.a, shape.b);
    case "rectangle": case "ellipse": return { ...shape.rect };
    case "text": {
      const width = [...shape.text].length;
      const [x, y] = shape.at;
      return { minX: x, minY: y, maxX: x + Math.max(width, 1) - 1, maxY: y + 1 };
    }
  }
  throw new RangeError(`unknown shape ${shape.kind}`);
}
/** Where an element is, moves included. */
export function boundsOf(element) {
  const b = element.shapeBounds, [dx, dy] = element.offset;
  return { minX: b.minX + dx, minY: b.minY + dy, maxX: b.maxX + dx, maxY: b.maxY + dy };
}
/** `boundsOf`, with text two units per character and four tall: what `visibleBounds` covers in every raster mode. */
function screenExtent(element) {
  if (element.shape.kind !== "text") return boundsOf(element);
  const [x, y] = [element.shape.at[0] + element.offset[0], element.shape.at[1] + element.offset[1]];
  return { minX: x, minY: y, maxX: x + Math.max([...element.shape.text].length, 1) * 2 - 1, maxY: y + 3 };
}
function rectsIntersect(a, b) { return a.minX <= b.maxX && b.minX <= a.maxX && a.minY <= b.maxY && b.minY <= a.maxY; }
function touches(element, area) {
  if (!rectsIntersect(boundsOf(element), area)) return false;
  if (element.shape.kind !== "stroke") return true;
  const [dx, dy] = element.offset;
  const { points, count } = element.shape;
  for (let p = 0; p < count; p++) {
    const x = points[2 * p] + dx, y = points[2 * p + 1] + dy;
    if (x >= area.minX && x <= area.maxX && y >= area.minY && y <= area.maxY) return true;
  }
  return false;
}

/** An element's place in the order as numbers (milliseconds, counter), for fast sorting. */
function zNumbers(z) { return { zh: Number(z.timestamp >> 16n), zl: Number(z.timestamp & 0xffffn) }; }

/** Orders elements bottom first: by (timestamp, origin) of their creation. */
export function compareZ(a, b) {
  return a.zh - b.zh || a.zl - b.zl || (a.z.origin < b.z.origin ? -1 : a.z.origin > b.z.origin ? 1 : 0);
}

/** The style in effect: the latest restyle in the order, else the created style. */
export function styleOf(element) {
  if (element.restyles.size === 0) return element.createdStyle;
  let best = null;
  for (const write of element.restyles.values()) if (!best || compareKeys(best.key, write.key) < 0) best = write;
  return best ? best.style : element.createdStyle;
}
function sameStyle(a, b) { return a.color === b.color && a.filled === b.filled && a.brush === b.brush; }

// MARK: The board

export class Board {
  constructor() {
    this.elements = new Map();
    this.histories = new Map();
    this.owner = {};
  }

  /** A copy sharing every element; either may change afterwards. */
  fork() {
    const copy = new Board();
    copy.elements = new Map(this.elements);
    copy.histories = new Map(this.histories);
    this.owner = {};
    return copy;
  }

  /** A board from a decoded snapshot body (wire.js `decodeSnapshotBody`). */
  static fromSnapshot({ elements, histories }) {
    const board = new Board();
    for (const decoded of elements) {
      const element = {
        id: decoded.id, z: decoded.z, ...zNumbers(decoded.z), shape: decoded.shape, createdStyle: decoded.style,
        restyles: decoded.restyles,
        restyleFloor: decoded.floor, offset: decoded.offset, hiddenBy: decoded.hiddenBy, open: decoded.open,
        owner: board.owner,
      };
      element.shapeBounds = shapeBounds(element.shape);
      board.elements.set(element.id, element);
    }
    for (const { origin, undoable: u, redoable: r } of histories) board.histories.set(origin, historyFrom(u, r));
    return board;
  }

  /** The plain records `encodeSnapshotBody` writes. */
  toSnapshot() {
    return {
      elements: [...this.elements.values()],
      histories: [...this.histories.entries()].map(([origin, history]) => ({
        origin, undoable: undoable(history), redoable: redoable(history),
      })),
    };
  }

  /** The element with `id`, copied first if another board shares it. */
  mutable(id) {
    let element = this.elements.get(id);
    if (!element) return null;
    if (element.owner !== this.owner) {
      const shape = element.shape.kind === "stroke" ? { ...element.shape } : element.shape;
      element = {
        ...element, shape, restyles: new Map(element.restyles), hiddenBy: new Set(element.hiddenBy),
        shapeBounds: { ...element.shapeBounds }, owner: this.owner,
      };
      this.elements.set(id, element);
    }
    return element;
  }

  /** Visible elements, bottom first. */
  visibleElements() {
    const visible = [];
    for (const element of this.elements.values()) if (element.hiddenBy.size === 0) visible.push(element);
    return visible.sort(compareZ);
  }

  /** The smallest [minX, minY, maxX, maxY] holding every visible element (Board.visibleBounds), or null. */
  visibleBounds() {
    let bounds = null;
    for (const element of this.elements.values()) {
      if (element.hiddenBy.size > 0) continue;
      const b = screenExtent(element);
      bounds = bounds
        ? [Math.min(bounds[0], b.minX), Math.min(bounds[1], b.minY), Math.max(bounds[2], b.maxX), Math.max(bounds[3], b.maxY)]
        : [b.minX, b.minY, b.maxX, b.maxY];
    }
    return bounds;
  }

  /** The board as `GET /rooms/{room}/board.json` exports it (BoardExport). */
  exportJSON() {
    const elements = this.visibleElements().map(exportItem);
    const bounds = this.visibleBounds();
    return bounds ? { elements, bounds } : { elements };
  }
}

function exportItem(element) {
  const style = styleOf(element);
  const item = { id: element.id, kind: element.shape.kind, color: style.color, filled: style.filled };
  if (style.brush !== "solid") item.glyph = style.brush;
  const [dx, dy] = element.offset;
  const shape = element.shape;
  switch (shape.kind) {
    case "stroke": {
      item.points = [];
      for (let p = 0; p < shape.count; p++) item.points.push([shape.points[2 * p] + dx, shape.points[2 * p + 1] + dy]);
      item.open = element.open;
      break;
    }
    case "line": item.points = [[shape.a[0] + dx, shape.a[1] + dy], [shape.b[0] + dx, shape.b[1] + dy]]; break;
    case "rectangle": case "ellipse": {
      const r = shape.rect;
      item.rect = [r.minX + dx, r.minY + dy, r.maxX + dx, r.maxY + dy];
      break;
    }
    case "text": item.text = shape.text; item.at = [shape.at[0] + dx, shape.at[1] + dy]; break;
  }
  return item;
}

// MARK: The reducer

function shapeOf(action) {
  switch (action.type) {
    case "beginStroke": return { kind: "stroke", points: [action.at[0], action.at[1]], count: 1 };
    case "addShape":
      if (action.shape === "line") return { kind: "line", a: action.from, b: action.to };
      return { kind: action.shape, rect: rectOfCorners(action.from, action.to) };
    case "addText": return { kind: "text", at: action.at, text: action.text };
  }
  return null;
}

function pushRecord(board, origin, record, limits) {
  const history = board.histories.get(origin) ?? EMPTY_HISTORY;
  const lost = { undoable: null, redoable: redoable(history) };
  const depth = Math.max(limits.undoDepth, 1);
  if (history.done && history.done.height - history.floor >= depth) {
    lost.undoable = nodeAtHeight(history.done, history.floor + 1)?.record ?? null;
  }
  let next = { done: node(record, history.done), undone: null, floor: history.floor };
  const height = next.done.height;
  if (height > next.floor + depth) next.floor = height - depth;
  if (height > 2 * depth) next = historyFrom(undoable(next), []);
  board.histories.set(origin, next);
  prune(board, lost);
}

function prune(board, lost) {
  const record = lost.undoable;
  if (record && record.kind === "hid") {
    for (const id of record.ids) if (board.elements.get(id)?.hiddenBy.has(record.by)) board.elements.delete(id);
  } else if (record && record.kind === "restyled") {
    const current = board.elements.get(record.id)?.restyles.get(record.write);
    if (current && compareKeys(current.key, record.key) === 0 && sameStyle(current.style, record.style)) {
      const element = board.mutable(record.id);
      element.restyleFloor = record.key;
      for (const [writeId, write] of [...element.restyles]) {
        if (compareKeys(write.key, record.key) < 0) element.restyles.delete(writeId);
      }
    }
  }
  for (const redo of lost.redoable) {
    if (redo.kind === "created" && board.elements.get(redo.id)?.hiddenBy.has(redo.id)) board.elements.delete(redo.id);
  }
}

function addRestyle(element, writeId, write) {
  if (element.restyleFloor && compareKeys(write.key, element.restyleFloor) < 0) return;
  element.restyles.set(writeId, write);
}

function distinct(ids) { return [...new Set(ids)]; }

function hide(board, ids, mark, origin, limits) {
  if (ids.length === 0) return;
  const sorted = [...ids].sort(compareIds);
  for (const id of sorted) board.mutable(id)?.hiddenBy.add(mark);
  pushRecord(board, origin, { kind: "hid", ids: sorted, by: mark }, limits);
}

function extendErase(board, gesture, ids, origin, limits) {
  if (ids.length === 0) return;
  const history = board.histories.get(origin);
  const latest = history && history.done && history.done.height > history.floor ? history.done.record : null;
  if (!latest || latest.kind !== "hid" || latest.by !== gesture) {
    hide(board, ids, gesture, origin, limits);
    return;
  }
  for (const id of ids) board.mutable(id)?.hiddenBy.add(gesture);
  const merged = distinct([...latest.ids, ...ids]).sort(compareIds);
  const lost = redoable(history);
  board.histories.set(origin, { done: node({ kind: "hid", ids: merged, by: gesture }, history.done.below), undone: null, floor: history.floor });
  prune(board, { undoable: null, redoable: lost });
}

function revert(board, record) {
  switch (record.kind) {
    case "created": board.mutable(record.id)?.hiddenBy.add(record.id); break;
    case "moved": {
      const element = board.mutable(record.id);
      if (element) element.offset = [element.offset[0] - record.by[0], element.offset[1] - record.by[1]];
      break;
    }
    case "restyled": board.mutable(record.id)?.restyles.delete(record.write); break;
    case "hid": for (const id of record.ids) board.mutable(id)?.hiddenBy.delete(record.by); break;
  }
}

function reapply(board, record) {
  switch (record.kind) {
    case "created": board.mutable(record.id)?.hiddenBy.delete(record.id); break;
    case "moved": {
      const element = board.mutable(record.id);
      if (element) element.offset = [element.offset[0] + record.by[0], element.offset[1] + record.by[1]];
      break;
    }
    case "restyled": {
      const element = board.mutable(record.id);
      if (element) addRestyle(element, record.write, { key: record.key, style: record.style });
      break;
    }
    case "hid": for (const id of record.ids) board.mutable(id)?.hiddenBy.add(record.by); break;
  }
}

/**
 * Applies one update ({origin, seq, timestamp, action}) to `board`, exactly
 * as the Swift reducer does. Returns the ids of elements it may have changed
 * (null: possibly any), for the renderer.
 */
export function reduce(board, update, limits = LIMITS) {
  const { action, origin } = update;
  const id = idString(origin, update.seq);
  const key = { timestamp: update.timestamp, origin };
  switch (action.type) {
    case "beginStroke": case "addShape": case "addText": {
      const shape = shapeOf(action);
      const element = {
        id, z: key, ...zNumbers(key), shape, createdStyle: action.style, restyles: new Map(), restyleFloor: null, offset: [0, 0],
        hiddenBy: new Set(), open: shape.kind === "stroke", owner: board.owner,
      };
      element.shapeBounds = shapeBounds(shape);
      board.elements.set(id, element);
      pushRecord(board, origin, { kind: "created", id }, limits);
      return [id];
    }
    case "extendStroke": {
      const current = board.elements.get(action.stroke);
      if (!current || !current.open || parseId(action.stroke).origin !== origin || current.shape.kind !== "stroke") return [];
      const element = board.mutable(action.stroke);
      const shape = element.shape;
      if (shape.points.length !== shape.count * 2) shape.points = shape.points.slice(0, shape.count * 2);
      const room = Math.max(0, limits.maxPointsPerStroke - shape.count);
      const bounds = element.shapeBounds;
      for (const [x, y] of action.points.slice(0, room)) {
        shape.points.push(x, y);
        shape.count += 1;
        if (x < bounds.minX) bounds.minX = x;
        if (x > bounds.maxX) bounds.maxX = x;
        if (y < bounds.minY) bounds.minY = y;
        if (y > bounds.maxY) bounds.maxY = y;
      }
      return [action.stroke];
    }
    case "endStroke": {
      const current = board.elements.get(action.stroke);
      if (!current || !current.open || parseId(action.stroke).origin !== origin) return [];
      board.mutable(action.stroke).open = false;
      return [action.stroke];
    }
    case "move": {
      const element = board.mutable(action.element);
      if (element) element.offset = [element.offset[0] + action.by[0], element.offset[1] + action.by[1]];
      pushRecord(board, origin, { kind: "moved", id: action.element, by: action.by }, limits);
      return [action.element];
    }
    case "restyle": {
      const write = { key, style: action.style };
      const element = board.mutable(action.element);
      if (element) addRestyle(element, id, write);
      pushRecord(board, origin, { kind: "restyled", id: action.element, write: id, key, style: action.style }, limits);
      return [action.element];
    }
    case "delete":
      board.mutable(action.element)?.hiddenBy.add(id);
      pushRecord(board, origin, { kind: "hid", ids: [action.element], by: id }, limits);
      return [action.element];
    case "erase":
      hide(board, distinct(action.elements), id, origin, limits);
      return action.elements;
    case "continueErasing": {
      const gesture = parseId(action.gesture);
      if (gesture.origin !== origin || gesture.seq >= update.seq) return [];
      extendErase(board, action.gesture, distinct(action.elements), origin, limits);
      return action.elements;
    }
    case "eraseArea": {
      const touched = [...board.elements.values()].filter((e) => touches(e, action.area)).map((e) => e.id);
      hide(board, touched, id, origin, limits);
      return touched;
    }
    case "continueErase": {
      const gesture = parseId(action.gesture);
      if (gesture.origin !== origin || gesture.seq >= update.seq) return [];
      const touched = [...board.elements.values()].filter((e) => touches(e, action.area)).map((e) => e.id);
      extendErase(board, action.gesture, touched, origin, limits);
      return touched;
    }
    case "clear": {
      const before = [...board.elements.values()].filter((e) => compareKeys(e.z, key) < 0).map((e) => e.id);
      hide(board, before, id, origin, limits);
      return null;
    }
    case "undo": {
      const history = board.histories.get(origin);
      if (!history || !history.done || history.done.height <= history.floor) return [];
      const top = history.done;
      board.histories.set(origin, { done: top.below, undone: node(top.record, history.undone), floor: history.floor });
      revert(board, top.record);
      return recordIds(top.record);
    }
    case "redo": {
      const history = board.histories.get(origin);
      if (!history || !history.undone) return [];
      const top = history.undone;
      board.histories.set(origin, { done: node(top.record, history.done), undone: top.below, floor: history.floor });
      reapply(board, top.record);
      return recordIds(top.record);
    }
  }
  return [];
}

function recordIds(record) { return record.kind === "hid" ? record.ids : [record.id]; }

/** What an origin's next undo and redo would do, for the toolbar. */
export function undoState(board, origin) {
  const history = board.histories.get(origin);
  return {
    canUndo: !!(history && history.done && history.done.height > history.floor),
    canRedo: !!(history && history.undone),
  };
}

// MARK: Validation (the rules the server checks, so the page never sends what it would refuse)

/** Whether a character takes one terminal cell (BoardLimits.isSingleCell). */
export function isSingleCell(character) {
  const v = character.codePointAt(0);
  const inRange = (v >= 0x20 && v <= 0x7e) || (v >= 0xa0 && v <= 0x24f) || (v >= 0x370 && v <= 0x3ff)
    || (v >= 0x400 && v <= 0x4ff) || (v >= 0x2010 && v <= 0x205e) || (v >= 0x2190 && v <= 0x21ff)
    || (v >= 0x2500 && v <= 0x25ff);
  if (!inRange) return false;
  return v < 0x300 || !/\p{Diacritic}/u.test(character);
}

// MARK: The replica

const CHECKPOINT_INTERVAL = 64;

/**
 * Updates above a base board, in the total order, with the board they make.
 * An update that arrives in order is applied at once; one that arrives
 * out of order rewinds to the checkpoint before its place and replays.
 * Below the server's frontier nothing can arrive any more, so the entries
 * there are folded into the base.
 */
export class Replica {
  constructor(limits = LIMITS) {
    this.limits = limits;
    this.entries = [];
    this.checkpoints = [{ index: 0, board: new Board() }];
    this.board = this.checkpoints[0].board.fork();
    this.contiguous = new Map();
    this.heldAbove = new Map();
    this.rewinds = 0;
    this.replayed = 0;
    /** What changed since `takeChanges`: element ids, or `all`. */
    this.changes = { all: true, ids: new Set() };
  }

  /** The changes since the last call, for the renderer. */
  takeChanges() {
    const changes = this.changes;
    this.changes = { all: false, ids: new Set() };
    return changes;
  }

  /** The highest contiguous seq held per origin (what `hello` advertises). */
  get digest() { return new Map(this.contiguous); }

  holds(origin, seq) {
    return seq <= (this.contiguous.get(origin) ?? 0) || (this.heldAbove.get(origin)?.has(seq) ?? false);
  }

  /** The entry of (origin, seq), if held above the base. */
  entry(origin, seq) { return this.entries.find((e) => e.origin === origin && e.seq === seq) ?? null; }

  markHeld(origin, seq) {
    const have = this.contiguous.get(origin) ?? 0;
    if (seq === have + 1) {
      let next = seq;
      const above = this.heldAbove.get(origin);
      while (above && above.has(next + 1)) { above.delete(next + 1); next += 1; }
      this.contiguous.set(origin, next);
    } else if (seq > have) {
      if (!this.heldAbove.has(origin)) this.heldAbove.set(origin, new Set());
      this.heldAbove.get(origin).add(seq);
    }
  }

  /**
   * Adds an update; returns false for one already held. `changed` collects
   * the element ids touched (null: the whole board may have changed).
   */
  insert(update) {
    if (this.holds(update.origin, update.seq)) return false;
    this.markHeld(update.origin, update.seq);
    const position = this.position(update);
    this.entries.splice(position, 0, update);
    if (position === this.entries.length - 1) {
      this.apply(update);
    } else {
      this.rewindTo(position, true);
    }
    return true;
  }

  /** Where an update goes: after every entry before it in the order. */
  position(update) {
    let low = 0, high = this.entries.length;
    // Most updates go at the end.
    if (high > 0 && compareKeys(this.entries[high - 1], update) < 0) return high;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (compareKeys(this.entries[middle], update) < 0) low = middle + 1; else high = middle;
    }
    return low;
  }

  apply(update) {
    const changed = reduce(this.board, update, this.limits);
    if (changed === null) this.changes.all = true;
    else for (const id of changed) this.changes.ids.add(id);
    const applied = this.entries.length - this.checkpoints[this.checkpoints.length - 1].index;
    if (applied >= CHECKPOINT_INTERVAL) {
      this.checkpoints.push({ index: this.entries.length, board: this.board });
      this.board = this.board.fork();
    }
  }

  /**
   * Rebuilds the board from the last checkpoint at or before `position`.
   * With `precise`, the changes are what the updates from `position` on
   * touched (those before it did exactly what they did before); otherwise
   * everything.
   */
  rewindTo(position, precise = false) {
    while (this.checkpoints.length > 1 && this.checkpoints[this.checkpoints.length - 1].index > position) {
      this.checkpoints.pop();
    }
    const checkpoint = this.checkpoints[this.checkpoints.length - 1];
    this.board = checkpoint.board.fork();
    this.rewinds += 1;
    const entries = this.entries;
    let all = !precise;
    for (let index = checkpoint.index; index < entries.length; index++) {
      const changed = reduce(this.board, entries[index], this.limits);
      if (index >= position && !all) {
        if (changed === null) all = true;
        else for (const id of changed) this.changes.ids.add(id);
      }
      this.replayed += 1;
      if (index + 1 - this.checkpoints[this.checkpoints.length - 1].index >= CHECKPOINT_INTERVAL && index + 1 < entries.length) {
        this.checkpoints.push({ index: index + 1, board: this.board });
        this.board = this.board.fork();
      }
    }
    if (all) this.changes.all = true;
  }

  /** Takes entries out (an own update being re-stamped) and rebuilds. */
  remove(predicate) {
    const first = this.entries.findIndex(predicate);
    if (first < 0) return [];
    const removed = this.entries.filter(predicate);
    this.entries = this.entries.filter((e) => !predicate(e));
    this.rewindTo(first);
    return removed;
  }

  /** Puts re-stamped updates back (their seqs are still held). */
  reinsert(updates) {
    let first = this.entries.length;
    for (const update of updates) {
      const position = this.position(update);
      this.entries.splice(position, 0, update);
      first = Math.min(first, position);
    }
    if (first === this.entries.length - updates.length && updates.length > 0) {
      for (const update of updates) this.apply(update);
    } else if (updates.length > 0) {
      this.rewindTo(first, true);
    }
  }

  /**
   * Folds what lies below `frontier` into the base, except from
   * `keepFrom` on (the first update of ours the server has not taken).
   */
  fold(frontier, keepFrom = Infinity) {
    let limit = 0;
    while (limit < this.entries.length && limit < keepFrom && this.entries[limit].timestamp < frontier) limit += 1;
    let keep = 0;
    for (let k = 0; k < this.checkpoints.length; k++) if (this.checkpoints[k].index <= limit) keep = k;
    const shift = this.checkpoints[keep].index;
    if (shift === 0) return;
    this.checkpoints = this.checkpoints.slice(keep).map((c) => ({ index: c.index - shift, board: c.board }));
    this.entries = this.entries.slice(shift);
  }

  /**
   * Replaces everything at or below the horizon with a snapshot's board.
   * Keeps the entries beyond the snapshot's digest; returns the kept entries
   * of `own` that lie at or below the horizon (never accepted: the caller
   * re-stamps them).
   */
  adoptSnapshot(board, digest, horizon, own) {
    const beyond = this.entries.filter((e) => e.seq > (digest.get(e.origin) ?? 0));
    const restamp = beyond.filter((e) => e.origin === own && compareKeys(e, horizon) <= 0);
    const kept = beyond.filter((e) => !(e.origin === own && compareKeys(e, horizon) <= 0));
    this.contiguous = new Map(digest);
    this.heldAbove = new Map();
    for (const entry of [...kept, ...restamp]) this.markHeld(entry.origin, entry.seq);
    this.entries = kept;
    this.checkpoints = [{ index: 0, board }];
    this.rewindTo(0);
    return restamp;
  }

  /** Starts over from a kept board: a base, the updates above it, and the digest of both. */
  restore(base, entries, digest) {
    this.checkpoints = [{ index: 0, board: base }];
    this.entries = [...entries].sort(compareKeys);
    this.contiguous = new Map(digest);
    this.heldAbove = new Map();
    this.rewindTo(0);
  }

  get entryCount() { return this.entries.length; }
}
