// Protocol v1, written from docs/PROTOCOL.md: varints, frames, every
// message, the per-link delta context of `updates`, the board's action
// codec, the presence payload and the snapshot body.
//
// Representation: a peer is 16 lowercase hex digits (so equal-length
// strings compare as the unsigned numbers do); timestamps, clocks and
// nonces are BigInt; seqs, counts and coordinates are Numbers. An element
// or update id is the string "origin#seq".

export const PROTOCOL_VERSION = 1;
export const MAX_FRAME_SIZE = 1 << 20;
export const ROLE = { editor: 0, viewer: 1, bot: 2, server: 3 };
export const MESSAGE = {
  hello: 1, updates: 2, ack: 3, synced: 4, frontier: 5, reject: 6, presence: 7,
  presenceGone: 8, ping: 9, pong: 10, goodbye: 11, snapshot: 12, snapshotChunk: 13,
};
const MESSAGE_NAMES = Object.fromEntries(Object.entries(MESSAGE).map(([name, type]) => [type, name]));
export const CLOSE = {
  normal: 0, protocolViolation: 1, updateRejected: 2, versionMismatch: 3, unauthorized: 4, timeout: 5,
  slowConsumer: 6, snapshotRequired: 7, shuttingDown: 8, limitExceeded: 9, storageUnavailable: 10, redirect: 11,
};
export const REJECT = { sequenceGap: 0, nonMonotonic: 1, farFuture: 2, stale: 3, invalid: 4, notAuthor: 5 };
const LIMIT = { name: 64, room: 128, credentials: 256, reason: 1024, presence: 4096, digest: 1 << 20 };

/** Anything malformed: the message says what. */
export class WireError extends Error {}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export function idString(origin, seq) { return `${origin}#${seq}`; }
export function parseId(id) {
  const hash = id.indexOf("#");
  return { origin: id.slice(0, hash), seq: Number(id.slice(hash + 1)) };
}
/** Orders ids by origin (unsigned), then seq: the canonical order. */
export function compareIds(a, b) {
  const pa = parseId(a), pb = parseId(b);
  return pa.origin < pb.origin ? -1 : pa.origin > pb.origin ? 1 : pa.seq - pb.seq;
}
/** Orders (timestamp, origin) keys: the board's total order. */
export function compareKeys(a, b) {
  if (a.timestamp !== b.timestamp) return a.timestamp < b.timestamp ? -1 : 1;
  return a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : 0;
}

export class Writer {
  constructor(capacity = 64) { this.buffer = new Uint8Array(capacity); this.length = 0; }
  reserve(count) {
    if (this.length + count <= this.buffer.length) return;
    const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.length + count));
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
  }
  byte(value) { this.reserve(1); this.buffer[this.length++] = value & 0xff; }
  /** Unsigned LEB128 of a Number (up to 2^53) or a BigInt (up to 2^64). */
  varint(value) {
    if (typeof value === "bigint") {
      if (value < 0n || value >= 1n << 64n) throw new RangeError(`varint out of range: ${value}`);
      while (value >= 0x80n) { this.byte(Number(value & 0x7fn) | 0x80); value >>= 7n; }
      this.byte(Number(value));
      return;
    }
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`varint out of range: ${value}`);
    while (value >= 0x80) { this.byte((value % 0x80) | 0x80); value = Math.floor(value / 0x80); }
    this.byte(value);
  }
  /** A signed Number as a zigzag varint. */
  signed(value) { this.varint(value >= 0 ? value * 2 : -value * 2 - 1); }
  peer(hex) {
    let value = BigInt("0x" + hex);
    for (let i = 0; i < 8; i++) { this.byte(Number(value & 0xffn)); value >>= 8n; }
  }
  raw(bytes) { this.reserve(bytes.length); this.buffer.set(bytes, this.length); this.length += bytes.length; }
  bytes(bytes) { this.varint(bytes.length); this.raw(bytes); }
  string(text) { this.bytes(encoder.encode(text)); }
  point(x, y) { this.signed(x); this.signed(y); }
  id(id) { const { origin, seq } = parseId(id); this.peer(origin); this.varint(seq); }
  key(key) { this.varint(key.timestamp); this.peer(key.origin); }
  finish() { return this.buffer.slice(0, this.length); }
}

const HEX_PAIRS = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

export class Reader {
  constructor(bytes, start = 0, end = bytes.length) { this.bytes = bytes; this.position = start; this.end = end; }
  get remaining() { return this.end - this.position; }
  byte() {
    if (this.position >= this.end) throw new WireError("truncated: the bytes end in the middle of a value");
    return this.bytes[this.position++];
  }
  take(count) {
    if (count > this.remaining) throw new WireError("truncated: the bytes end in the middle of a value");
    const slice = this.bytes.subarray(this.position, this.position + count);
    this.position += count;
    return slice;
  }
  /** A varint as a BigInt (any 64-bit value). */
  bigVarint() {
    // The low 28 bits and the rest as Numbers (both exact), one BigInt at the end.
    let low = 0, high = 0, scale = 1;
    for (let index = 0; index < 10; index++) {
      const next = this.byte();
      if (index === 9 && next > 1) throw new WireError("a varint is longer than 64 bits");
      if (index < 4) low += (next & 0x7f) * 2 ** (7 * index);
      else { high += (next & 0x7f) * scale; scale *= 0x80; }
      if (next < 0x80) return high === 0 ? BigInt(low) : (BigInt(high) << 28n) | BigInt(low);
    }
    throw new WireError("a varint is longer than 10 bytes");
  }
  /** A varint as a Number; a value beyond 2^53 is refused. */
  varint() {
    let result = 0, scale = 1;
    for (let index = 0; index < 10; index++) {
      const next = this.byte();
      if (index === 9 && next > 1) throw new WireError("a varint is longer than 64 bits");
      result += (next & 0x7f) * scale;
      if (next < 0x80) {
        if (result > Number.MAX_SAFE_INTEGER) throw new WireError("a value is too large for this peer");
        return result;
      }
      scale *= 0x80;
    }
    throw new WireError("a varint is longer than 10 bytes");
  }
  count(what, limit) {
    const value = this.varint();
    if (value > limit) throw new WireError(`${what} ${value} is over the limit of ${limit}`);
    return value;
  }
  /** A zigzag varint; anything beyond ±2^52 is refused (coordinates and seq deltas are far smaller). */
  signed() {
    let raw;
    try { raw = this.varint(); } catch (error) {
      if (error instanceof WireError && error.message.startsWith("a value is too large")) throw new WireError("a coordinate is out of range");
      throw error;
    }
    return raw % 2 === 1 ? -(raw - 1) / 2 - 1 : raw / 2;
  }
  /** A 32-bit coordinate: `base` plus a signed delta. */
  coordinate(base = 0) {
    const value = base + this.signed();
    if (value < -2147483648 || value > 2147483647) throw new WireError("a coordinate is out of range");
    return value;
  }
  peer() {
    const bytes = this.take(8);
    return HEX_PAIRS[bytes[7]] + HEX_PAIRS[bytes[6]] + HEX_PAIRS[bytes[5]] + HEX_PAIRS[bytes[4]]
      + HEX_PAIRS[bytes[3]] + HEX_PAIRS[bytes[2]] + HEX_PAIRS[bytes[1]] + HEX_PAIRS[bytes[0]];
  }
  utf8(count) {
    try { return decoder.decode(this.take(count)); } catch (error) {
      if (error instanceof WireError) throw error;
      throw new WireError("text is not valid UTF-8");
    }
  }
  string(limit, what = "string") {
    const length = this.varint();
    if (length > limit) throw new WireError(`${what} is ${length} bytes, over the limit of ${limit}`);
    return this.utf8(length);
  }
  lengthPrefixed(limit, what = "bytes") {
    const length = this.varint();
    if (length > limit) throw new WireError(`${what} is ${length} bytes, over the limit of ${limit}`);
    return this.take(length).slice();
  }
  id() { const origin = this.peer(); return idString(origin, this.varint()); }
  key() { const timestamp = this.bigVarint(); return { timestamp, origin: this.peer() }; }
  point() { return [this.coordinate(), this.coordinate()]; }
}

// MARK: Board actions (Sources/Whiteboard/BoardActionCodec.swift)

export const ACTION = {
  beginStroke: 0, extendStroke: 1, endStroke: 2, addShape: 3, addText: 4, move: 5, restyle: 6, delete: 7,
  eraseArea: 8, clear: 9, undo: 10, redo: 11, continueErase: 12, erase: 13, continueErasing: 14,
};
const ACTION_NAMES = Object.fromEntries(Object.entries(ACTION).map(([name, tag]) => [tag, name]));
export const SHAPES = ["line", "rectangle", "ellipse"];

function writeStyle(writer, style) {
  writer.byte(style.color);
  if (style.brush === "solid") {
    writer.byte(style.filled ? 1 : 0);
  } else {
    writer.byte(style.filled ? 3 : 2);
    writer.varint(style.brush.codePointAt(0));
  }
}
function readStyle(reader) {
  const color = reader.byte();
  const flags = reader.byte();
  if (flags > 3) throw new WireError("style flags are out of range");
  let brush = "solid";
  if (flags & 2) {
    const scalar = reader.varint();
    if (scalar > 0x10ffff || (scalar >= 0xd800 && scalar <= 0xdfff)) throw new WireError("a glyph is not a Unicode scalar");
    brush = String.fromCodePoint(scalar);
  }
  return { brush, color, filled: (flags & 1) !== 0 };
}
function writeReference(writer, id, context) {
  const target = parseId(id);
  if (target.origin === context.origin && target.seq < context.seq) {
    writer.varint((context.seq - target.seq) * 2);
  } else {
    writer.varint(1);
    writer.id(id);
  }
}
function readReference(reader, context) {
  const tag = reader.varint();
  if (tag === 1) return reader.id();
  const distance = tag / 2;
  if (tag % 2 !== 0 || distance < 1 || distance >= context.seq) throw new WireError("an element reference is out of range");
  return idString(context.origin, context.seq - distance);
}
function writeReferences(writer, ids, context) {
  writer.varint(ids.length);
  for (const id of ids) writeReference(writer, id, context);
}
function readReferences(reader, context) {
  const count = reader.varint();
  if (count < 1 || count > 4096 || count > reader.remaining) throw new WireError("an element count is out of range");
  const ids = [];
  for (let i = 0; i < count; i++) ids.push(readReference(reader, context));
  return ids;
}
function writeArea(writer, area) {
  writer.point(area.minX, area.minY);
  writer.signed(area.maxX - area.minX);
  writer.signed(area.maxY - area.minY);
}
function readArea(reader) {
  const [minX, minY] = reader.point();
  return { minX, minY, maxX: reader.coordinate(minX), maxY: reader.coordinate(minY) };
}

/** An action's bytes; `context` is the carrying update's {origin, seq}. */
export function encodeAction(action, context) {
  const writer = new Writer(16);
  writer.byte(ACTION[action.type]);
  switch (action.type) {
    case "beginStroke": writer.point(...action.at); writeStyle(writer, action.style); break;
    case "extendStroke": {
      writeReference(writer, action.stroke, context);
      writer.varint(action.points.length);
      let [px, py] = [0, 0];
      for (const [x, y] of action.points) { writer.signed(x - px); writer.signed(y - py); [px, py] = [x, y]; }
      break;
    }
    case "endStroke": writeReference(writer, action.stroke, context); break;
    case "addShape":
      writer.byte(SHAPES.indexOf(action.shape));
      writer.point(...action.from);
      writer.signed(action.to[0] - action.from[0]);
      writer.signed(action.to[1] - action.from[1]);
      writeStyle(writer, action.style);
      break;
    case "addText": writer.point(...action.at); writeStyle(writer, action.style); writer.string(action.text); break;
    case "move": writeReference(writer, action.element, context); writer.point(...action.by); break;
    case "restyle": writeReference(writer, action.element, context); writeStyle(writer, action.style); break;
    case "delete": writeReference(writer, action.element, context); break;
    case "erase": writeReferences(writer, action.elements, context); break;
    case "continueErasing":
      writeReference(writer, action.gesture, context);
      writeReferences(writer, action.elements, context);
      break;
    case "eraseArea": writeArea(writer, action.area); break;
    case "continueErase": writeReference(writer, action.gesture, context); writeArea(writer, action.area); break;
    case "clear": case "undo": case "redo": break;
    default: throw new RangeError(`unknown action ${action.type}`);
  }
  return writer.finish();
}

/** Decodes an action; anything malformed throws a WireError. */
export function decodeAction(bytes, context) {
  const reader = new Reader(bytes);
  const tag = reader.byte();
  const type = ACTION_NAMES[tag];
  if (type === undefined) throw new WireError(`unknown action tag ${tag}`);
  let action;
  switch (type) {
    case "beginStroke": action = { type, at: reader.point(), style: readStyle(reader) }; break;
    case "extendStroke": {
      const stroke = readReference(reader, context);
      const count = reader.varint();
      if (count < 1 || count > 4096) throw new WireError("point count is out of range");
      const points = [];
      let [x, y] = [0, 0];
      for (let i = 0; i < count; i++) { x = reader.coordinate(x); y = reader.coordinate(y); points.push([x, y]); }
      action = { type, stroke, points };
      break;
    }
    case "endStroke": action = { type, stroke: readReference(reader, context) }; break;
    case "addShape": {
      const kind = reader.byte();
      if (kind > 2) throw new WireError("shape kind is out of range");
      const from = reader.point();
      const to = [reader.coordinate(from[0]), reader.coordinate(from[1])];
      action = { type, shape: SHAPES[kind], from, to, style: readStyle(reader) };
      break;
    }
    case "addText": {
      const at = reader.point();
      const style = readStyle(reader);
      action = { type, at, style, text: reader.string(8192, "text") };
      break;
    }
    case "move": action = { type, element: readReference(reader, context), by: reader.point() }; break;
    case "restyle": action = { type, element: readReference(reader, context), style: readStyle(reader) }; break;
    case "delete": action = { type, element: readReference(reader, context) }; break;
    case "erase": action = { type, elements: readReferences(reader, context) }; break;
    case "continueErasing":
      action = { type, gesture: readReference(reader, context), elements: readReferences(reader, context) };
      break;
    case "eraseArea": action = { type, area: readArea(reader) }; break;
    case "continueErase": action = { type, gesture: readReference(reader, context), area: readArea(reader) }; break;
    default: action = { type };
  }
  if (reader.remaining !== 0) throw new WireError(`${reader.remaining} unexpected bytes after the action`);
  return action;
}

// MARK: Presence (Sources/Whiteboard/BoardPresence.swift)

export const TOOLS = ["freehand", "line", "rectangle", "ellipse", "text", "eraser", "select"];

export function encodePresence(presence) {
  const writer = new Writer(32);
  writer.string([...presence.name].slice(0, 32).join(""));
  writer.byte(presence.color);
  writer.byte(TOOLS.indexOf(presence.tool) | (presence.cursor ? 0x40 : 0) | (presence.viewport ? 0x80 : 0));
  if (presence.cursor) writer.point(...presence.cursor);
  if (presence.viewport) {
    const { minX, minY, maxX, maxY } = presence.viewport;
    writer.point(minX, minY);
    writer.signed(maxX - minX);
    writer.signed(maxY - minY);
  }
  return writer.finish();
}

export function decodePresence(bytes) {
  const reader = new Reader(bytes);
  const name = reader.string(128, "name");
  const color = reader.byte();
  const flags = reader.byte();
  const tool = TOOLS[flags & 0x3f];
  if (tool === undefined) throw new WireError("tool is out of range");
  const cursor = flags & 0x40 ? reader.point() : null;
  const viewport = flags & 0x80 ? readArea(reader) : null;
  if (reader.remaining !== 0) throw new WireError("unexpected bytes after the presence");
  return { name, color, tool, cursor, viewport };
}

// MARK: Messages

function writeDigest(writer, digest) {
  const entries = [...digest.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  writer.varint(entries.length);
  for (const [origin, seq] of entries) { writer.peer(origin); writer.varint(seq); }
}
function readDigest(reader) {
  const count = reader.count("digest size", LIMIT.digest);
  const digest = new Map();
  for (let i = 0; i < count; i++) { const origin = reader.peer(); digest.set(origin, reader.varint()); }
  return digest;
}

function writeRejection(writer, rejection) {
  writer.byte(rejection.code);
  if (rejection.code === REJECT.sequenceGap) {
    writer.peer(rejection.origin); writer.varint(rejection.expected); writer.varint(rejection.received);
    return;
  }
  writer.id(rejection.id);
  switch (rejection.code) {
    case REJECT.nonMonotonic: writer.varint(rejection.timestamp); writer.varint(rejection.previous); break;
    case REJECT.farFuture: writer.varint(rejection.timestamp); break;
    case REJECT.stale: writer.varint(rejection.timestamp); writer.varint(rejection.frontier); break;
    case REJECT.invalid: writer.string(rejection.reason); break;
  }
}
function readRejection(reader) {
  const code = reader.byte();
  if (code === REJECT.sequenceGap) {
    return { code, origin: reader.peer(), expected: reader.varint(), received: reader.varint() };
  }
  if (code > REJECT.notAuthor) throw new WireError(`unknown rejection ${code}`);
  const rejection = { code, id: reader.id() };
  switch (code) {
    case REJECT.nonMonotonic: rejection.timestamp = reader.bigVarint(); rejection.previous = reader.bigVarint(); break;
    case REJECT.farFuture: rejection.timestamp = reader.bigVarint(); break;
    case REJECT.stale: rejection.timestamp = reader.bigVarint(); rejection.frontier = reader.bigVarint(); break;
    case REJECT.invalid: rejection.reason = reader.string(LIMIT.reason, "reason"); break;
  }
  return rejection;
}
const WORDED_CLOSE = new Set([CLOSE.protocolViolation, CLOSE.unauthorized, CLOSE.limitExceeded, CLOSE.storageUnavailable]);
function writeCloseReason(writer, reason) {
  writer.byte(reason.code);
  if (WORDED_CLOSE.has(reason.code)) writer.string(reason.what);
  else if (reason.code === CLOSE.updateRejected) writeRejection(writer, reason.rejection);
  else if (reason.code === CLOSE.versionMismatch) { writer.varint(reason.local); writer.varint(reason.remote); }
  else if (reason.code === CLOSE.redirect) { writer.string(reason.node); writer.string(reason.address); }
}
function readCloseReason(reader) {
  const code = reader.byte();
  if (code > CLOSE.redirect) throw new WireError(`unknown close reason ${code}`);
  const reason = { code };
  if (WORDED_CLOSE.has(code)) reason.what = reader.string(LIMIT.reason, "reason");
  else if (code === CLOSE.updateRejected) reason.rejection = readRejection(reader);
  else if (code === CLOSE.versionMismatch) { reason.local = reader.varint(); reason.remote = reader.varint(); }
  else if (code === CLOSE.redirect) {
    reason.node = reader.string(LIMIT.reason, "node");
    reason.address = reader.string(LIMIT.reason, "address");
  }
  return reason;
}

/** A close reason in words, for people. */
export function describeCloseReason(reason) {
  switch (reason.code) {
    case CLOSE.normal: return "closed";
    case CLOSE.protocolViolation: return `protocol violation: ${reason.what}`;
    case CLOSE.updateRejected: return `update rejected: ${describeRejection(reason.rejection)}`;
    case CLOSE.versionMismatch: return `version mismatch: the server speaks ${reason.local}, this page ${reason.remote}`;
    case CLOSE.unauthorized: return `unauthorized: ${reason.what}`;
    case CLOSE.timeout: return "timed out";
    case CLOSE.slowConsumer: return "too slow to keep up";
    case CLOSE.snapshotRequired: return "snapshot required";
    case CLOSE.shuttingDown: return "the server is shutting down";
    case CLOSE.limitExceeded: return `limit exceeded: ${reason.what}`;
    case CLOSE.storageUnavailable: return `storage unavailable: ${reason.what}`;
    case CLOSE.redirect: return `the room is served by node ${reason.node} (${reason.address})`;
    default: return `closed (${reason.code})`;
  }
}
export function describeRejection(rejection) {
  switch (rejection.code) {
    case REJECT.sequenceGap: return `sequence gap (expected ${rejection.expected}, got ${rejection.received})`;
    case REJECT.nonMonotonic: return `timestamp not after the previous one (${rejection.id})`;
    case REJECT.farFuture: return `timestamp too far in the future (${rejection.id})`;
    case REJECT.stale: return `stale (${rejection.id})`;
    case REJECT.invalid: return `invalid action: ${rejection.reason}`;
    case REJECT.notAuthor: return `not the author of ${rejection.id}`;
    default: return `refused (${rejection.code})`;
  }
}

/**
 * One direction of a link's delta context: the origins it carried, with
 * the last seq and timestamp of each. An encoder and a decoder each keep one.
 */
class DeltaContext {
  constructor() { this.index = new Map(); this.entries = []; }
}

/** Writes messages as frames for one direction of one link (stateful). */
export class FrameEncoder {
  constructor() { this.context = new DeltaContext(); }

  /** One whole frame: length prefix, then the payload. */
  encode(message) {
    const payload = new Writer(64);
    this.writePayload(message, payload);
    const frame = new Writer(payload.length + 4);
    frame.varint(payload.length);
    frame.raw(payload.buffer.subarray(0, payload.length));
    return frame.finish();
  }

  writePayload(message, writer) {
    writer.byte(MESSAGE[message.type]);
    switch (message.type) {
      case "hello":
        writer.varint(message.version);
        writer.peer(message.peer);
        writer.string(message.name);
        writer.string(message.room);
        writer.byte(message.role);
        if (message.credentials == null) writer.byte(0);
        else { writer.byte(1); writer.string(message.credentials); }
        writeDigest(writer, message.digest);
        writer.varint(message.clock);
        break;
      case "updates":
        writer.varint(message.updates.length);
        for (const update of message.updates) this.writeUpdate(update, writer);
        break;
      case "ack": writer.varint(message.batches); writer.varint(message.clock); break;
      case "synced": break;
      case "frontier": writer.varint(message.timestamp); break;
      case "reject": writeRejection(writer, message.rejection); break;
      case "presence": writer.peer(message.origin); writer.bytes(message.payload); break;
      case "presenceGone": writer.peer(message.origin); break;
      case "ping": case "pong": writer.varint(message.nonce); break;
      case "goodbye": writeCloseReason(writer, message.reason); break;
      case "snapshot":
        writer.varint(message.horizonTimestamp);
        writer.peer(message.horizonOrigin);
        writeDigest(writer, message.digest);
        writer.varint(message.length);
        break;
      case "snapshotChunk": writer.bytes(message.bytes); break;
      default: throw new RangeError(`unknown message ${message.type}`);
    }
  }

  writeUpdate(update, writer) {
    const raw = update.timestamp;
    const known = this.context.index.get(update.origin);
    if (known === undefined) {
      this.context.index.set(update.origin, this.context.entries.length);
      this.context.entries.push({ seq: update.seq, timestamp: raw });
      writer.varint(0);
      writer.peer(update.origin);
      writer.varint(update.seq);
      writer.varint(raw);
    } else {
      writer.varint(known + 1);
      const previous = this.context.entries[known];
      writer.signed(update.seq - previous.seq);
      const [ms, previousMs] = [raw >> 16n, previous.timestamp >> 16n];
      if (ms === previousMs && raw >= previous.timestamp) {
        writer.varint((raw - previous.timestamp) << 2n);
      } else if (ms > previousMs && ms - previousMs < 1n << 40n) {
        writer.varint(((ms - previousMs) << 2n) | 1n);
        writer.varint(raw & 0xffffn);
      } else {
        writer.varint(2);
        writer.varint(raw);
      }
      previous.seq = update.seq;
      previous.timestamp = raw;
    }
    writer.bytes(encodeAction(update.action, update));
  }
}

/** Reads frames of one direction of one link (stateful), from any chunks. */
export class FrameDecoder {
  constructor(maxFrameSize = MAX_FRAME_SIZE) {
    this.context = new DeltaContext();
    this.maxFrameSize = maxFrameSize;
    this.pending = new Uint8Array(0);
  }

  /** The messages of whole frames in `chunk` (and what came before it). */
  push(chunk) {
    let bytes = chunk;
    if (this.pending.length > 0) {
      bytes = new Uint8Array(this.pending.length + chunk.length);
      bytes.set(this.pending);
      bytes.set(chunk, this.pending.length);
    }
    const messages = [];
    let position = 0;
    while (position < bytes.length) {
      const reader = new Reader(bytes, position);
      let length;
      try { length = reader.varint(); } catch (error) {
        if (bytes.length - position < 10) break; // the length prefix itself is cut
        throw error;
      }
      if (length > this.maxFrameSize) throw new WireError(`a frame of ${length} bytes is over the limit of ${this.maxFrameSize}`);
      if (length === 0) throw new WireError("an empty frame");
      if (reader.position + length > bytes.length) break;
      messages.push(this.decodePayload(new Reader(bytes, reader.position, reader.position + length)));
      position = reader.position + length;
    }
    this.pending = bytes.slice(position);
    return messages;
  }

  /** Whether bytes of an unfinished frame are waiting. */
  get hasPartialFrame() { return this.pending.length > 0; }

  decodePayload(reader) {
    const code = reader.byte();
    const type = MESSAGE_NAMES[code];
    if (type === undefined) throw new WireError(`unknown message type ${code}`);
    const message = { type };
    switch (type) {
      case "hello": {
        const version = reader.varint();
        message.version = Math.min(version, 65535);
        message.peer = reader.peer();
        message.name = reader.string(LIMIT.name, "name");
        message.room = reader.string(LIMIT.room, "room");
        message.role = reader.byte();
        if (message.role > 3) throw new WireError(`unknown role ${message.role}`);
        const flag = reader.byte();
        if (flag > 1) throw new WireError("the credentials flag is not 0 or 1");
        message.credentials = flag === 1 ? reader.string(LIMIT.credentials, "credentials") : null;
        message.digest = readDigest(reader);
        message.clock = reader.bigVarint();
        break;
      }
      case "updates": {
        const count = reader.varint();
        if (count < 1 || count > 65536) throw new WireError(`an updates message of ${count} updates`);
        message.updates = [];
        for (let i = 0; i < count; i++) message.updates.push(this.readUpdate(reader));
        break;
      }
      case "ack": message.batches = reader.count("ack batches", 0xffffffff); message.clock = reader.bigVarint(); break;
      case "synced": break;
      case "frontier": message.timestamp = reader.bigVarint(); break;
      case "reject": message.rejection = readRejection(reader); break;
      case "presence": message.origin = reader.peer(); message.payload = reader.lengthPrefixed(LIMIT.presence, "presence"); break;
      case "presenceGone": message.origin = reader.peer(); break;
      case "ping": case "pong": message.nonce = reader.bigVarint(); break;
      case "goodbye": message.reason = readCloseReason(reader); break;
      case "snapshot":
        message.horizonTimestamp = reader.bigVarint();
        message.horizonOrigin = reader.peer();
        message.digest = readDigest(reader);
        message.length = reader.varint();
        break;
      case "snapshotChunk": message.bytes = reader.lengthPrefixed(this.maxFrameSize, "snapshot chunk"); break;
    }
    if (reader.remaining !== 0) throw new WireError(`${reader.remaining} unexpected bytes after a ${type} message`);
    return message;
  }

  readUpdate(reader) {
    const reference = reader.varint();
    let origin, seq, timestamp, entry;
    if (reference === 0) {
      if (this.context.entries.length >= 65536) throw new WireError("more than 65,536 origins on one link");
      origin = reader.peer();
      if (this.context.index.has(origin)) throw new WireError(`origin ${origin} defined twice`);
      seq = reader.varint();
      timestamp = reader.bigVarint();
      entry = { origin, seq, timestamp };
      this.context.index.set(origin, this.context.entries.length);
      this.context.entries.push(entry);
    } else {
      entry = this.context.entries[reference - 1];
      if (entry === undefined) throw new WireError(`origin reference ${reference} is undefined`);
      origin = entry.origin;
      seq = entry.seq + reader.signed();
      const tag = reader.bigVarint();
      const previous = entry.timestamp;
      switch (tag & 3n) {
        case 0n: timestamp = previous + (tag >> 2n); break;
        case 1n: {
          const counter = reader.bigVarint();
          if (counter > 0xffffn) throw new WireError("a stamp counter is over 65,535");
          timestamp = (((previous >> 16n) + (tag >> 2n)) << 16n) | counter;
          break;
        }
        case 2n: timestamp = reader.bigVarint(); break;
        default: throw new WireError("a stamp tag of 3");
      }
      if (timestamp >= 1n << 64n) throw new WireError("a timestamp overflows 64 bits");
    }
    if (seq < 1) throw new WireError("a seq of 0");
    entry.seq = seq;
    entry.timestamp = timestamp;
    const actionBytes = reader.lengthPrefixed(this.maxFrameSize, "action");
    return { origin, seq, timestamp, action: decodeAction(actionBytes, { origin, seq }) };
  }
}

// MARK: Snapshot body (Sources/Whiteboard/BoardSnapshotCodec.swift)

const MAX_SNAPSHOT_COUNT = 1 << 24;

/**
 * Decodes a snapshot body (versions 1 to 3) into plain element and history
 * records; `model.js` turns them into a board.
 */
export function decodeSnapshotBody(bytes) {
  const reader = new Reader(bytes);
  const format = reader.byte();
  if (format < 1 || format > 3) throw new WireError(`unknown snapshot version ${format}`);
  const elements = [];
  const elementCount = reader.count("element count", MAX_SNAPSHOT_COUNT);
  for (let i = 0; i < elementCount; i++) elements.push(readSnapshotElement(reader, format));
  const histories = [];
  const historyCount = reader.count("history count", MAX_SNAPSHOT_COUNT);
  for (let i = 0; i < historyCount; i++) {
    const origin = reader.peer();
    const lists = [];
    for (let list = 0; list < 2; list++) {
      const records = [];
      const count = reader.count("undo record count", MAX_SNAPSHOT_COUNT);
      for (let r = 0; r < count; r++) records.push(readRecord(reader));
      lists.push(records);
    }
    histories.push({ origin, undoable: lists[0], redoable: lists[1] });
  }
  if (reader.remaining !== 0) throw new WireError(`${reader.remaining} unexpected bytes after the snapshot`);
  return { elements, histories };
}

function readRect(reader) {
  const [minX, minY] = reader.point();
  const [maxX, maxY] = reader.point();
  return { minX, minY, maxX, maxY };
}

function readSnapshotElement(reader, format) {
  const id = reader.id();
  const z = reader.key();
  let shape;
  const kind = reader.byte();
  switch (kind) {
    case 0: {
      const count = reader.count("stroke length", MAX_SNAPSHOT_COUNT);
      let end = null;
      if (format >= 2) {
        readRect(reader);
        reader.point();
        const length = reader.count("stroke bytes", MAX_SNAPSHOT_COUNT * 20);
        end = reader.position + length;
        if (end > reader.end) throw new WireError("truncated: the bytes end in the middle of a stroke");
      }
      const points = new Array(count * 2);
      let [x, y] = [0, 0];
      for (let p = 0; p < count; p++) { x = reader.coordinate(x); y = reader.coordinate(y); points[2 * p] = x; points[2 * p + 1] = y; }
      if (end !== null && reader.position !== end) throw new WireError("a stroke's points do not fill its length");
      shape = { kind: "stroke", points, count };
      break;
    }
    case 1: shape = { kind: "line", a: reader.point(), b: reader.point() }; break;
    case 2: shape = { kind: "rectangle", rect: readRect(reader) }; break;
    case 3: shape = { kind: "ellipse", rect: readRect(reader) }; break;
    case 4: { const at = reader.point(); shape = { kind: "text", at, text: reader.utf8(reader.count("text length", 8192)) }; break; }
    default: throw new WireError(`unknown shape ${kind}`);
  }
  const style = readStyle(reader);
  const restyles = new Map();
  const restyleCount = reader.count("restyle count", MAX_SNAPSHOT_COUNT);
  for (let r = 0; r < restyleCount; r++) {
    const writeId = reader.id();
    const key = reader.key();
    restyles.set(writeId, { key, style: readStyle(reader) });
  }
  let floor = null;
  if (format >= 3 && restyleCount > 0) {
    const flag = reader.byte();
    if (flag === 1) {
      floor = reader.key();
      if (![...restyles.values()].some((write) => compareKeys(write.key, floor) === 0)) {
        throw new WireError("a restyle floor that names no restyle");
      }
    } else if (flag !== 0) throw new WireError("restyle floor flag is out of range");
  }
  const offset = reader.point();
  const hiddenBy = new Set();
  const hiders = reader.count("hider count", MAX_SNAPSHOT_COUNT);
  for (let h = 0; h < hiders; h++) hiddenBy.add(reader.id());
  const open = reader.byte();
  if (open > 1) throw new WireError("open flag is out of range");
  return { id, z, shape, style, restyles, floor, offset, hiddenBy, open: open === 1 };
}

function readRecord(reader) {
  const kind = reader.byte();
  switch (kind) {
    case 0: return { kind: "created", id: reader.id() };
    case 1: return { kind: "moved", id: reader.id(), by: reader.point() };
    case 2: {
      const id = reader.id();
      const write = reader.id();
      const key = reader.key();
      return { kind: "restyled", id, write, key, style: readStyle(reader) };
    }
    case 3: {
      const ids = [];
      const count = reader.count("hidden count", MAX_SNAPSHOT_COUNT);
      for (let i = 0; i < count; i++) ids.push(reader.id());
      return { kind: "hid", ids, by: reader.id() };
    }
    default: throw new WireError(`unknown undo record ${kind}`);
  }
}

/** The snapshot body of plain records (the inverse of decodeSnapshotBody, version 3). */
export function encodeSnapshotBody({ elements, histories }) {
  const writer = new Writer(1024);
  writer.byte(3);
  const sorted = [...elements].sort((a, b) => compareIds(a.id, b.id));
  writer.varint(sorted.length);
  for (const element of sorted) {
    writer.id(element.id);
    writer.key(element.z);
    const shape = element.shape;
    switch (shape.kind) {
      case "stroke": {
        writer.byte(0);
        writer.varint(shape.count);
        const bounds = element.shapeBounds;
        writer.point(bounds.minX, bounds.minY);
        writer.point(bounds.maxX, bounds.maxY);
        const n = shape.count;
        writer.point(n > 0 ? shape.points[2 * n - 2] : 0, n > 0 ? shape.points[2 * n - 1] : 0);
        const deltas = new Writer(n * 2 + 2);
        let [px, py] = [0, 0];
        for (let p = 0; p < n; p++) {
          const [x, y] = [shape.points[2 * p], shape.points[2 * p + 1]];
          deltas.signed(x - px); deltas.signed(y - py);
          [px, py] = [x, y];
        }
        writer.bytes(deltas.finish());
        break;
      }
      case "line": writer.byte(1); writer.point(...shape.a); writer.point(...shape.b); break;
      case "rectangle": case "ellipse":
        writer.byte(shape.kind === "rectangle" ? 2 : 3);
        writer.point(shape.rect.minX, shape.rect.minY);
        writer.point(shape.rect.maxX, shape.rect.maxY);
        break;
      case "text": writer.byte(4); writer.point(...shape.at); writer.string(shape.text); break;
    }
    writeStyle(writer, element.createdStyle);
    const restyles = [...element.restyles.entries()].sort(([, a], [, b]) => compareKeys(a.key, b.key));
    writer.varint(restyles.length);
    for (const [writeId, write] of restyles) { writer.id(writeId); writer.key(write.key); writeStyle(writer, write.style); }
    if (restyles.length > 0) {
      if (element.restyleFloor) { writer.byte(1); writer.key(element.restyleFloor); } else writer.byte(0);
    }
    writer.point(...element.offset);
    const hiders = [...element.hiddenBy].sort(compareIds);
    writer.varint(hiders.length);
    for (const id of hiders) writer.id(id);
    writer.byte(element.open ? 1 : 0);
  }
  const sortedHistories = [...histories].sort((a, b) => (a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : 0));
  writer.varint(sortedHistories.length);
  for (const history of sortedHistories) {
    writer.peer(history.origin);
    for (const records of [history.undoable, history.redoable]) {
      writer.varint(records.length);
      for (const record of records) writeRecord(writer, record);
    }
  }
  return writer.finish();
}

function writeRecord(writer, record) {
  switch (record.kind) {
    case "created": writer.byte(0); writer.id(record.id); break;
    case "moved": writer.byte(1); writer.id(record.id); writer.point(...record.by); break;
    case "restyled":
      writer.byte(2); writer.id(record.id); writer.id(record.write); writer.key(record.key); writeStyle(writer, record.style);
      break;
    case "hid":
      writer.byte(3); writer.varint(record.ids.length);
      for (const id of record.ids) writer.id(id);
      writer.id(record.by);
      break;
  }
}
