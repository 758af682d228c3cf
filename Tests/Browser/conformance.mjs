// The browser board's protocol code against the golden files every
// implementation is held to (docs/PROTOCOL.md): run by BrowserBoardTests
// with node, or by hand: `node Tests/Browser/conformance.mjs`.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import assert from "node:assert/strict";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const board = join(root, "Sources", "Server", "Resources", "board");
const wire = await import(join(board, "wire.js"));
const model = await import(join(board, "model.js"));
const fixture = (name) => readFileSync(join(root, "Fixtures", "wire", name), "utf8");
const hex = (bytes) => Buffer.from(bytes).toString("hex");
const unhex = (text) => new Uint8Array(Buffer.from(text.trim(), "hex"));

let checks = 0;
function check(name, body) {
  try { body(); checks += 1; } catch (error) { console.error(`FAIL ${name}`); throw error; }
}

/** A decoded message in the fixture's JSON shape. */
function plain(value) {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Map) return [...value].map(([origin, seq]) => ({ origin, seq }));
  if (value instanceof Uint8Array) return [...value];
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === "object") {
    const out = {};
    for (const [key, field] of Object.entries(value)) out[key] = plain(field);
    return out;
  }
  return value;
}
function normalizeFixture(message) {
  const copy = structuredClone(message);
  if (copy.rejection?.id) copy.rejection.id = `${copy.rejection.id.origin}#${copy.rejection.id.seq}`;
  if (copy.reason?.rejection?.id) copy.reason.rejection.id = `${copy.reason.rejection.id.origin}#${copy.reason.rejection.id.seq}`;
  return copy;
}
function toMessage(json) {
  const m = structuredClone(json);
  const big = (v) => BigInt(v);
  const digest = (entries) => new Map(entries.map((e) => [e.origin, e.seq]));
  switch (m.type) {
    case "hello": m.clock = big(m.clock); m.digest = digest(m.digest); break;
    case "updates": for (const u of m.updates) u.timestamp = big(u.timestamp); break;
    case "ack": m.clock = big(m.clock); break;
    case "frontier": m.timestamp = big(m.timestamp); break;
    case "ping": case "pong": m.nonce = big(m.nonce); break;
    case "presence": m.payload = new Uint8Array(m.payload); break;
    case "snapshot": m.horizonTimestamp = big(m.horizonTimestamp); m.digest = digest(m.digest); break;
    case "snapshotChunk": m.bytes = new Uint8Array(m.bytes); break;
  }
  const rejection = m.rejection ?? m.reason?.rejection;
  if (rejection) {
    if (rejection.id) rejection.id = `${rejection.id.origin}#${rejection.id.seq}`;
    for (const key of ["timestamp", "previous", "frontier"]) if (rejection[key] !== undefined) rejection[key] = big(rejection[key]);
  }
  return m;
}

// Every message: decode the link's frames, compare, and encode them back byte for byte.
const frames = fixture("v1-every-message.hex").trim().split("\n");
const messages = JSON.parse(fixture("v1-every-message.json"));
check("every message decodes", () => {
  const decoder = new wire.FrameDecoder();
  const decoded = decoder.push(unhex(frames.join("")));
  assert.equal(decoded.length, messages.length);
  decoded.forEach((message, index) => assert.deepEqual(plain(message), normalizeFixture(messages[index]), `message ${index}`));
});
check("every message encodes", () => {
  const encoder = new wire.FrameEncoder();
  messages.forEach((json, index) => assert.equal(hex(encoder.encode(toMessage(json))), frames[index], `frame ${index}`));
});
check("frames split anywhere decode the same", () => {
  const all = unhex(frames.join(""));
  const decoder = new wire.FrameDecoder();
  const out = [];
  for (let start = 0; start < all.length; start += 7) out.push(...decoder.push(all.subarray(start, start + 7)));
  assert.equal(out.length, messages.length);
  assert.equal(decoder.hasPartialFrame, false);
});
check("malformed input is refused", () => {
  assert.throws(() => new wire.FrameDecoder().push(unhex("01ff")), wire.WireError);
  assert.throws(() => new wire.FrameDecoder(16).push(unhex("20")), /over the limit/);
  assert.throws(() => new wire.FrameDecoder().push(unhex("020200")), /updates message of 0/);
  assert.throws(() => wire.decodeAction(unhex("0914"), { origin: "00000000000000aa", seq: 1 }), /unexpected bytes/);
  assert.throws(() => wire.decodeAction(unhex("0202"), { origin: "00000000000000aa", seq: 1 }), /element reference/);
});

// Board actions: each decodes to its JSON and encodes to its bytes.
const actions = JSON.parse(fixture("v1-board-actions.json"));
check("board actions", () => {
  for (const { action, bytes, context } of actions) {
    assert.deepEqual(plain(wire.decodeAction(unhex(bytes), context)), action, action.type);
    assert.equal(hex(wire.encodeAction(action, context)), bytes, action.type);
  }
});

// The reducer: the actions applied in order, up to the clear, make exactly
// the golden snapshot body; the older bodies decode to the same board.
const golden = fixture("v3-snapshot-body.hex").trim();
check("the reducer builds the golden board", () => {
  const replica = new model.Replica();
  for (const { action, context, timestamp } of actions) {
    if (action.type === "clear") break;
    replica.insert({ origin: context.origin, seq: context.seq, timestamp: BigInt(timestamp), action });
  }
  assert.equal(hex(wire.encodeSnapshotBody(replica.board.toSnapshot())), golden);
});
check("the same board, delivered in reverse order, rewinds to the same bytes", () => {
  const replica = new model.Replica();
  const updates = [];
  for (const { action, context, timestamp } of actions) {
    if (action.type === "clear") break;
    updates.push({ origin: context.origin, seq: context.seq, timestamp: BigInt(timestamp), action });
  }
  // Per origin in seq order (as a link delivers), origins interleaved late-first.
  const origins = [...new Set(updates.map((u) => u.origin))].reverse();
  for (const origin of origins) for (const u of updates.filter((x) => x.origin === origin)) replica.insert(u);
  assert.ok(replica.rewinds > 0);
  assert.equal(hex(wire.encodeSnapshotBody(replica.board.toSnapshot())), golden);
});
for (const version of ["v1", "v2", "v3"]) {
  check(`${version} snapshot body decodes to the golden board`, () => {
    const decoded = model.Board.fromSnapshot(wire.decodeSnapshotBody(unhex(fixture(`${version}-snapshot-body.hex`))));
    assert.equal(hex(wire.encodeSnapshotBody(decoded.toSnapshot())), golden);
  });
}
check("a truncated snapshot body is refused", () => {
  const bytes = unhex(golden);
  assert.throws(() => wire.decodeSnapshotBody(bytes.subarray(0, bytes.length - 1)), wire.WireError);
});

// Checkpoints and folding keep the board equal to a replay from scratch.
check("rewinds across checkpoints and folds agree with a fresh replay", () => {
  const origins = ["0000000000000001", "0000000000000002", "0000000000000003"];
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const perOrigin = origins.map((origin) => {
    const updates = [];
    let stroke = null;
    for (let seq = 1; seq <= 300; seq++) {
      const timestamp = (1000n + BigInt(Math.floor(random() * 5000))) << 16n | BigInt(seq);
      let action;
      const roll = random();
      if (stroke && roll < 0.4) action = { type: "extendStroke", stroke, points: [[Math.floor(random() * 50), Math.floor(random() * 50)]] };
      else if (roll < 0.55) { action = { type: "beginStroke", at: [seq, seq], style: { brush: "solid", color: 9, filled: false } }; }
      else if (roll < 0.65) action = { type: "undo" };
      else if (roll < 0.72) action = { type: "redo" };
      else if (roll < 0.8 && stroke) action = { type: "move", element: stroke, by: [1, -1] };
      else if (roll < 0.86 && stroke) action = { type: "erase", elements: [stroke] };
      else if (roll < 0.9 && stroke) action = { type: "restyle", element: stroke, style: { brush: "solid", color: 3, filled: true } };
      else action = { type: "addShape", shape: "rectangle", from: [0, seq], to: [4, seq + 2], style: { brush: "solid", color: 2, filled: false } };
      updates.push({ origin, seq, timestamp, action });
      if (action.type === "beginStroke") stroke = `${origin}#${seq}`;
    }
    // Stamps rise per origin.
    updates.sort((a, b) => (a.timestamp < b.timestamp ? -1 : 1)).forEach((u, i) => { u.seq = i + 1; });
    return updates;
  });
  const all = perOrigin.flat();
  const reference = new model.Replica();
  for (const u of [...all].sort((a, b) => wire.compareKeys(a, b))) reference.insert(u);
  const shuffled = new model.Replica();
  const cursors = origins.map(() => 0);
  let folded = 0;
  while (cursors.some((c, i) => c < perOrigin[i].length)) {
    const i = Math.floor(random() * origins.length);
    if (cursors[i] < perOrigin[i].length) shuffled.insert(perOrigin[i][cursors[i]++]);
    if (random() < 0.05) {
      // The frontier: nothing below the next undelivered stamp of any origin can still arrive.
      const next = perOrigin.map((updates, o) => updates[cursors[o]]?.timestamp).filter((t) => t !== undefined);
      if (next.length > 0) {
        const before = shuffled.entryCount;
        shuffled.fold(next.reduce((a, b) => (a < b ? a : b)));
        folded += before - shuffled.entryCount;
      }
    }
  }
  assert.ok(shuffled.rewinds > 10, `${shuffled.rewinds} rewinds`);
  assert.ok(folded > 100, `${folded} entries folded`);
  assert.equal(hex(wire.encodeSnapshotBody(shuffled.board.toSnapshot())), hex(wire.encodeSnapshotBody(reference.board.toSnapshot())));
});

console.log(`conformance: ${checks} checks passed`);
