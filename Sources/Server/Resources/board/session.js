// One browser peer of a room over the WebSocket binding of protocol v1
// (docs/PROTOCOL.md, "The conversation"): the handshake, sync, acks and the
// window, re-stamping what the server refuses as stale, snapshots,
// presence, pings for the round trip, and reconnecting with backoff.
// Updates this page recorded stay in IndexedDB until the server has made
// them durable, so a reload or a closed tab loses nothing.

import {
  CLOSE, FrameDecoder, FrameEncoder, PROTOCOL_VERSION, REJECT, ROLE, WireError, decodePresence,
  decodeSnapshotBody, describeCloseReason, describeRejection, encodePresence, encodeSnapshotBody, parseId,
} from "./wire.js";
import { Board, Replica } from "./model.js";

const WINDOW = 4;
const BATCH = 128;
const IDLE_ACK_MS = 1000;
const PING_MS = 5000;
const SILENCE_MS = 20000;
const PRESENCE_MS = 33;
/** How often the board is kept in IndexedDB for a reload while offline. */
const SAVE_BOARD_MS = 15000;
/**
 * Updates sent per second at most, in bursts of twice that: below the
 * server's default rate limit (2,000 a second), so that a long offline
 * queue drains without being cut off for flooding.
 */
const SEND_RATE = 1500;
/** Refusals that retrying cannot change: the page stops reconnecting. */
const FINAL = new Set([CLOSE.unauthorized, CLOSE.versionMismatch, CLOSE.protocolViolation]);

/** A hybrid logical clock: milliseconds << 16 | counter. */
export class HybridClock {
  constructor(last = 0n) { this.last = last; }
  tick() {
    const now = BigInt(Date.now()) << 16n;
    this.last = now > this.last ? now : this.last + 1n;
    return this.last;
  }
  observe(timestamp) { if (timestamp > this.last) this.last = timestamp; }
}

function randomPeer() {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  bytes[0] |= 1; // never the server's all-zero id
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// MARK: What waits in IndexedDB

/** Updates not yet durable on the server, per room and peer. */
export class PendingStore {
  static async open() {
    if (typeof indexedDB === "undefined") return new PendingStore(null);
    const db = await new Promise((resolve) => {
      const request = indexedDB.open("scuttleboard", 2);
      request.onupgradeneeded = () => {
        const db = request.result;
        if (!db.objectStoreNames.contains("pending")) {
          db.createObjectStore("pending", { keyPath: "key" }).createIndex("peer", "peerKey");
          db.createObjectStore("peers", { keyPath: "peerKey" }).createIndex("room", "room");
        }
        if (!db.objectStoreNames.contains("boards")) db.createObjectStore("boards", { keyPath: "room" });
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => resolve(null);
    });
    return new PendingStore(db);
  }

  constructor(db) { this.db = db; this.queue = Promise.resolve(); }

  transaction(stores, mode, work) {
    if (!this.db) return Promise.resolve(null);
    this.queue = this.queue.then(() => new Promise((resolve) => {
      const tx = this.db.transaction(stores, mode);
      const result = work(tx);
      tx.oncomplete = () => resolve(result);
      tx.onerror = () => resolve(null);
      tx.onabort = () => resolve(null);
    }));
    return this.queue;
  }

  /** Peers of `room` that left updates behind. */
  async peersWithPending(room) {
    const records = await this.transaction(["peers"], "readonly", (tx) => {
      const out = [];
      tx.objectStore("peers").index("room").openCursor(IDBKeyRange.only(room)).onsuccess = (event) => {
        const cursor = event.target.result;
        if (cursor) { out.push(cursor.value); cursor.continue(); }
      };
      return out;
    });
    return records ?? [];
  }

  /** A peer's last seq and stamp, and its updates still waiting, by seq. */
  async load(room, peer) {
    const peerKey = `${room}|${peer}`;
    const loaded = await this.transaction(["pending", "peers"], "readonly", (tx) => {
      const result = { meta: null, updates: [] };
      tx.objectStore("peers").get(peerKey).onsuccess = (event) => { result.meta = event.target.result ?? null; };
      tx.objectStore("pending").index("peer").openCursor(IDBKeyRange.only(peerKey)).onsuccess = (event) => {
        const cursor = event.target.result;
        if (cursor) { result.updates.push(cursor.value); cursor.continue(); }
      };
      return result;
    });
    if (!loaded) return { lastSeq: 0, lastStamp: 0n, updates: [] };
    const updates = loaded.updates
      .map((r) => ({ origin: peer, seq: r.seq, timestamp: BigInt(r.timestamp), action: r.action }))
      .sort((a, b) => a.seq - b.seq);
    return {
      lastSeq: loaded.meta?.lastSeq ?? 0,
      lastStamp: BigInt(loaded.meta?.lastStamp ?? "0"),
      updates,
    };
  }

  /** Stores updates (new or re-stamped) and the peer's counters. */
  save(room, peer, updates, lastSeq, lastStamp) {
    const peerKey = `${room}|${peer}`;
    return this.transaction(["pending", "peers"], "readwrite", (tx) => {
      const pending = tx.objectStore("pending");
      for (const u of updates) {
        pending.put({ key: `${peerKey}|${u.seq}`, peerKey, seq: u.seq, timestamp: u.timestamp.toString(), action: u.action });
      }
      tx.objectStore("peers").put({ peerKey, room, peer, lastSeq, lastStamp: lastStamp.toString() });
    });
  }

  /** The board last seen in `room`, as `saveBoard` kept it, or null. */
  async loadBoard(room) {
    return this.transaction(["boards"], "readonly", (tx) => {
      const result = { saved: null };
      tx.objectStore("boards").get(room).onsuccess = (event) => { result.saved = event.target.result ?? null; };
      return result;
    }).then((result) => result?.saved ?? null);
  }

  /** Keeps the board of `room` (without this page's waiting updates) for a reload while offline. */
  saveBoard(room, saved) {
    return this.transaction(["boards"], "readwrite", (tx) => { tx.objectStore("boards").put({ room, ...saved }); });
  }

  /** Forgets updates the server made durable. */
  remove(room, peer, seqs) {
    const peerKey = `${room}|${peer}`;
    return this.transaction(["pending"], "readwrite", (tx) => {
      const pending = tx.objectStore("pending");
      for (const seq of seqs) pending.delete(`${peerKey}|${seq}`);
    });
  }
}

/**
 * Chooses this page's peer id: the one this tab had before a reload, else
 * one a closed tab left updates behind under (so they are sent), else a new
 * one. Web Locks keep two tabs from taking the same id.
 */
async function claimPeer(store, room) {
  const remembered = sessionStorage.getItem(`scuttleboard-peer:${room}`);
  const candidates = [remembered, ...(await store.peersWithPending(room)).map((p) => p.peer)].filter(Boolean);
  for (const peer of candidates) {
    if (await lockPeer(peer)) return peer;
  }
  for (;;) {
    const peer = randomPeer();
    if (await lockPeer(peer)) return peer;
  }
}

function lockPeer(peer) {
  if (!navigator.locks) return Promise.resolve(true);
  return new Promise((resolve) => {
    navigator.locks.request(`scuttleboard-peer:${peer}`, { ifAvailable: true }, (lock) => {
      if (!lock) { resolve(false); return undefined; }
      resolve(true);
      return new Promise(() => {}); // held while the page lives
    });
  });
}

// MARK: The session

/**
 * Events (`addEventListener`): "state" (connection state changed), "board"
 * (the board changed; detail.remote says whether others changed it),
 * "presence" (someone moved or left), "pending" (the count of updates not
 * yet durable changed), "notice" (something to tell the person).
 */
export class Session extends EventTarget {
  static async start(options) {
    performance.mark("scuttleboard:start");
    let early = null;
    try { early = new WebSocket(options.url); early.binaryType = "arraybuffer"; } catch { early = null; }
    const store = await PendingStore.open();
    performance.mark("scuttleboard:db-open");
    const peer = await claimPeer(store, options.room);
    performance.mark("scuttleboard:peer");
    sessionStorage.setItem(`scuttleboard-peer:${options.room}`, peer);
    const saved = await store.load(options.room, peer);
    performance.mark("scuttleboard:pending-loaded");
    saved.board = await store.loadBoard(options.room);
    performance.mark("scuttleboard:stored-loaded");
    const session = new Session(options, store, peer, saved);
    performance.mark("scuttleboard:stored-applied");
    session.connect(early);
    return session;
  }

  constructor({ url, room, name, token, color, wantViewer }, store, peer, saved) {
    super();
    this.url = url;
    /** The page's own node: where to go back when a node redirected to is gone. */
    this.homeURL = url;
    this.room = room;
    this.name = name;
    this.token = token;
    this.color = color;
    this.role = wantViewer ? ROLE.viewer : ROLE.editor;
    this.store = store;
    this.peer = peer;
    this.replica = new Replica();
    this.clock = new HybridClock(saved.lastStamp);
    this.lastSeq = saved.lastSeq;
    /** Own updates the server has not made durable, by seq. */
    this.pending = new Map();
    /** Own updates to send on this link, in seq order. */
    this.unsent = [];
    /** Batches sent and not acknowledged: [{update, stamp}] each. */
    this.inFlight = [];
    this.presences = new Map();
    this.state = "connecting";
    this.detail = "";
    this.rtt = null;
    this.attempt = 0;
    /** Redirects followed since the last session that opened. */
    this.redirectsInARow = 0;
    this.synced = false;
    this.stopped = false;
    this.refusedAsEditor = false;
    this.stats = { received: 0, sent: 0, snapshots: 0, restamped: 0 };
    if (saved.board) this.restoreBoard(saved.board);
    for (const update of saved.updates) {
      this.clock.observe(update.timestamp);
      if (update.seq > this.lastSeq) this.lastSeq = update.seq;
      this.pending.set(update.seq, update);
      this.replica.insert(update);
    }
    this.unsent = [...saved.updates];
    this.myPresence = { name, color, tool: "freehand", cursor: null, viewport: null };
    this.timers = [
      setInterval(() => this.tickIdle(), IDLE_ACK_MS),
      setInterval(() => this.sendPing(), PING_MS),
      setInterval(() => { if (this.helloReceived) this.saveBoard(); }, SAVE_BOARD_MS),
    ];
    addEventListener("online", () => { if (this.state === "offline") this.connect(); });
  }

  /**
   * The board as this page last had it from the server: the base, the
   * updates above it and the digest of both, leaving out this page's own
   * updates still waiting (they are kept, and restored, apart).
   */
  saveBoard() {
    if (this.replica.entries.length === 0 && this.replica.contiguous.size === 0) return;
    const signature = `${this.stats.received}|${this.lastSeq}|${this.stats.snapshots}|${this.pending.size}`;
    if (signature === this.savedSignature) return;
    this.savedSignature = signature;
    const firstWaiting = Math.min(...this.pending.keys());
    const digest = [...this.replica.contiguous].map(([origin, seq]) => [origin, origin === this.peer ? Math.min(seq, firstWaiting - 1) : seq]);
    const kept = this.replica.entries.filter((e) => !(e.origin === this.peer && this.pending.has(e.seq)));
    // One `updates` frame per 65,536: binary, so that IndexedDB stores a few blobs, not an object per update.
    const entries = [];
    for (let start = 0; start < kept.length; start += 65536) {
      entries.push(new FrameEncoder().encode({ type: "updates", updates: kept.slice(start, start + 65536) }));
    }
    const body = encodeSnapshotBody(this.replica.checkpoints[0].board.toSnapshot());
    this.store.saveBoard(this.room, { body, digest, entries, savedAt: Date.now() });
  }

  restoreBoard(saved) {
    try {
      const base = Board.fromSnapshot(decodeSnapshotBody(saved.body));
      const entries = saved.entries.flatMap((frame) => new FrameDecoder(Infinity).push(frame).flatMap((m) => m.updates));
      this.replica.restore(base, entries, new Map(saved.digest));
    } catch (error) {
      this.emit("notice", { text: `could not read the board kept from the last visit: ${error.message}` });
    }
  }

  get isViewer() { return this.role === ROLE.viewer; }
  get pendingCount() { return this.pending.size; }

  emit(type, detail = {}) { this.dispatchEvent(new CustomEvent(type, { detail })); }

  setState(state, detail = "") {
    this.state = state;
    this.detail = detail;
    this.emit("state", { state, detail });
  }

  // MARK: The link

  connect(early = null) {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    this.encoder = new FrameEncoder();
    this.decoder = new FrameDecoder();
    this.helloReceived = false;
    this.snapshotInProgress = null;
    this.lastHeard = performance.now();
    this.setState("connecting", this.attempt > 0 ? `attempt ${this.attempt + 1}` : "");
    let socket = early && early.readyState <= WebSocket.OPEN ? early : null;
    try {
      socket ??= new WebSocket(this.url);
    } catch (error) {
      this.scheduleRetry(`cannot open ${this.url}: ${error.message}`);
      return;
    }
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    socket.onopen = () => {
      performance.mark("scuttleboard:socket-open");
      this.send({
        type: "hello", version: PROTOCOL_VERSION, peer: this.peer, name: this.name, room: this.room, role: this.role,
        credentials: this.token || null, digest: this.replica.digest, clock: this.reportedClock(),
      });
    };
    socket.onmessage = (event) => {
      if (socket !== this.socket) return;
      this.lastHeard = performance.now();
      if (typeof event.data === "string") { this.fail("the server sent a text message"); return; }
      let messages;
      try {
        messages = this.decoder.push(new Uint8Array(event.data));
      } catch (error) {
        this.fail(error instanceof WireError ? error.message : String(error));
        return;
      }
      const arrived = performance.now();
      for (const message of messages) {
        if (this.socket !== socket) return;
        this.handle(message, arrived);
      }
    };
    socket.onclose = () => {
      if (socket !== this.socket) return;
      this.socket = null;
      this.linkLost();
    };
    if (socket.readyState === WebSocket.OPEN) socket.onopen();
  }

  send(message) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(this.encoder.encode(message));
    return true;
  }

  /** Ends the link for a local reason (malformed input): goodbye, then close. */
  fail(what) {
    this.send({ type: "goodbye", reason: { code: CLOSE.protocolViolation, what } });
    this.emit("notice", { text: `link closed: ${what}` });
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000);
    this.linkLost();
  }

  linkLost() {
    // Everything sent and not acknowledged goes out again on the next link.
    const resend = this.inFlight.flat().map((sent) => sent.update).filter((u) => this.pending.get(u.seq) === u);
    this.inFlight = [];
    const bySeq = new Map([...resend, ...this.unsent].map((u) => [u.seq, u]));
    this.unsent = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
    this.presences.clear();
    this.emit("presence");
    if (this.helloReceived) this.saveBoard();
    this.helloReceived = false;
    if (this.state === "refused" || this.stopped) return;
    // A link lost to a node the page was redirected to: the page's own
    // node redirects it again to wherever the room went.
    this.url = this.homeURL;
    this.scheduleRetry(navigator.onLine === false ? "the browser is offline" : "the server is unreachable");
  }

  scheduleRetry(why) {
    this.attempt += 1;
    const delay = Math.min(10000, 500 * 2 ** Math.min(this.attempt - 1, 5)) * (0.75 + Math.random() * 0.5);
    this.retryAt = performance.now() + delay;
    this.setState("offline", why);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** Reconnects now (the "retry" button). */
  retryNow() { if (this.state === "offline") this.connect(); }

  reportedClock() {
    if (this.unsent.length > 0) {
      const first = this.unsent.reduce((min, u) => (u.timestamp < min ? u.timestamp : min), this.unsent[0].timestamp);
      return first > 0n ? first - 1n : 0n;
    }
    return this.clock.last;
  }

  tickIdle() {
    if (!this.helloReceived) return;
    if (performance.now() - this.lastHeard > SILENCE_MS) { this.fail("the server has been silent for 20 s"); return; }
    this.send({ type: "ack", batches: 0, clock: this.reportedClock() });
  }

  sendPing() {
    if (!this.helloReceived) return;
    this.pingSent = { nonce: BigInt(Math.floor(Math.random() * 2 ** 32)), at: performance.now() };
    this.send({ type: "ping", nonce: this.pingSent.nonce });
  }

  // MARK: What arrives

  handle(message, arrived) {
    if (!this.helloReceived) {
      if (message.type === "goodbye") { this.refused(message.reason); return; }
      if (message.type !== "hello") { this.fail(`the server sent ${message.type} before hello`); return; }
      this.admitted(message);
      return;
    }
    switch (message.type) {
      case "updates": this.receiveUpdates(message.updates, arrived); break;
      case "ack": this.acknowledged(message.batches, message.clock); break;
      case "synced": performance.mark("scuttleboard:synced"); this.synced = true; this.emit("synced"); break;
      case "frontier": this.frontier(message.timestamp); break;
      case "reject": this.rejected(message.rejection); break;
      case "presence":
        if (message.origin === this.peer) break;
        try { this.presences.set(message.origin, decodePresence(message.payload)); } catch { break; }
        this.emit("presence");
        break;
      case "presenceGone": this.presences.delete(message.origin); this.emit("presence"); break;
      case "ping": this.send({ type: "pong", nonce: message.nonce }); break;
      case "pong":
        if (this.pingSent && message.nonce === this.pingSent.nonce) {
          this.rtt = performance.now() - this.pingSent.at;
          this.emit("state", { state: this.state, detail: this.detail });
        }
        break;
      case "goodbye": this.refused(message.reason); break;
      case "snapshot": this.snapshotStarted(message); break;
      case "snapshotChunk": this.snapshotChunk(message.bytes); break;
      default: this.fail(`the server sent ${message.type}`);
    }
  }

  admitted(hello) {
    performance.mark("scuttleboard:admitted");
    this.helloReceived = true;
    this.attempt = 0;
    this.redirectsInARow = 0;
    this.clock.observe(hello.clock);
    this.setState(this.isViewer ? "viewing" : "live");
    this.sendPing();
    // What the server holds of ours is durable: forget it here.
    const held = hello.digest.get(this.peer) ?? 0;
    const durable = [...this.pending.keys()].filter((seq) => seq <= held);
    this.settle(durable);
    this.unsent = this.unsent.filter((u) => u.seq > held);
    this.sendPresence(true);
    this.flush();
  }

  refused(reason) {
    const text = describeCloseReason(reason);
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000);
    if (reason.code === CLOSE.unauthorized && this.role === ROLE.editor && !this.refusedAsEditor && !this.helloReceived) {
      // A viewer token: look, do not draw.
      this.refusedAsEditor = true;
      this.role = ROLE.viewer;
      this.emit("notice", { text: `view only: ${reason.what}` });
      this.connect();
      return;
    }
    if (reason.code === CLOSE.redirect && this.redirectsInARow < 4) {
      // The room lives on another node of the cluster: its HTTP address.
      this.redirectsInARow += 1;
      this.url = `${this.url.startsWith("wss:") ? "wss" : "ws"}://${reason.address}/ws`;
      this.emit("notice", { text: `moving to node ${reason.node}` });
      this.connect();
      return;
    }
    if (FINAL.has(reason.code)) {
      this.setState("refused", text);
      this.linkLost();
      return;
    }
    this.emit("notice", { text: `disconnected: ${text}` });
    this.linkLost();
  }

  receiveUpdates(updates, arrived) {
    let remote = false;
    for (const update of updates) {
      this.clock.observe(update.timestamp);
      if (update.seq > (this.replica.contiguous.get(update.origin) ?? 0) + 1 && !this.replica.holds(update.origin, update.seq)
        && update.origin !== this.peer) {
        this.fail(`sequence gap from ${update.origin}: expected ${(this.replica.contiguous.get(update.origin) ?? 0) + 1}, got ${update.seq}`);
        return;
      }
      if (this.replica.insert(update)) {
        this.stats.received += 1;
        if (update.origin !== this.peer) remote = true;
        if (update.origin === this.peer && update.seq > this.lastSeq) this.lastSeq = update.seq;
      }
    }
    this.send({ type: "ack", batches: 1, clock: this.reportedClock() });
    this.emit("board", { remote, arrived });
  }

  acknowledged(batches) {
    const durable = [];
    for (let i = 0; i < batches && this.inFlight.length > 0; i++) {
      for (const { update, stamp } of this.inFlight.shift()) {
        if (update.timestamp === stamp && this.pending.get(update.seq) === update && !update.refused) durable.push(update.seq);
      }
    }
    this.settle(durable);
    this.flush();
  }

  settle(seqs) {
    if (seqs.length === 0) return;
    for (const seq of seqs) this.pending.delete(seq);
    this.store.remove(this.room, this.peer, seqs);
    this.emit("pending");
  }

  frontier(timestamp) {
    this.clock.observe(timestamp);
    const firstPending = this.replica.entries.findIndex((e) => e.origin === this.peer && this.pending.has(e.seq));
    this.replica.fold(timestamp, firstPending < 0 ? Infinity : firstPending);
  }

  rejected(rejection) {
    if (rejection.code !== REJECT.stale) {
      this.emit("notice", { text: `refused: ${describeRejection(rejection)}` });
      return;
    }
    const { origin, seq } = parseId(rejection.id);
    const update = this.pending.get(seq);
    if (origin !== this.peer || !update || update.timestamp !== rejection.timestamp) return;
    this.clock.observe(rejection.frontier);
    this.restamp((u) => u.seq >= seq);
  }

  /** Re-stamps own updates the server never took, above everything seen. */
  restamp(which) {
    const chosen = [...this.pending.values()].filter(which);
    if (chosen.length === 0) return;
    const seqs = new Set(chosen.map((u) => u.seq));
    const removed = this.replica.remove((e) => e.origin === this.peer && seqs.has(e.seq));
    const restamped = removed.sort((a, b) => a.seq - b.seq).map((old) => {
      const fresh = { ...old, timestamp: this.clock.tick() };
      this.pending.set(fresh.seq, fresh);
      return fresh;
    });
    this.replica.reinsert(restamped);
    const others = this.unsent.filter((u) => !seqs.has(u.seq));
    this.unsent = [...others, ...restamped].sort((a, b) => a.seq - b.seq);
    this.stats.restamped += restamped.length;
    this.store.save(this.room, this.peer, restamped, this.lastSeq, this.clock.last);
    this.emit("board", { remote: false });
    this.flush();
  }

  snapshotStarted(header) {
    if (this.snapshotInProgress) { this.fail("a snapshot within a snapshot"); return; }
    if (header.length > 256 * 1024 * 1024) { this.fail("a snapshot over 256 MiB"); return; }
    this.snapshotInProgress = { header, bytes: new Uint8Array(header.length), received: 0 };
    if (header.length === 0) this.snapshotComplete();
  }

  snapshotChunk(bytes) {
    const snapshot = this.snapshotInProgress;
    if (!snapshot) { this.fail("a snapshot chunk without a snapshot"); return; }
    if (snapshot.received + bytes.length > snapshot.bytes.length) { this.fail("more snapshot bytes than announced"); return; }
    snapshot.bytes.set(bytes, snapshot.received);
    snapshot.received += bytes.length;
    if (snapshot.received === snapshot.bytes.length) this.snapshotComplete();
  }

  snapshotComplete() {
    const { header, bytes } = this.snapshotInProgress;
    this.snapshotInProgress = null;
    let board;
    try {
      board = Board.fromSnapshot(decodeSnapshotBody(bytes));
    } catch (error) {
      this.fail(`a malformed snapshot: ${error.message}`);
      return;
    }
    this.stats.snapshots += 1;
    const horizon = { timestamp: header.horizonTimestamp, origin: header.horizonOrigin };
    this.clock.observe(header.horizonTimestamp);
    const mine = header.digest.get(this.peer) ?? 0;
    this.settle([...this.pending.keys()].filter((seq) => seq <= mine));
    const lost = this.replica.adoptSnapshot(board, header.digest, horizon, this.peer);
    const toRestamp = new Set(lost.filter((u) => this.pending.has(u.seq)).map((u) => u.seq));
    if (toRestamp.size > 0) this.restamp((u) => toRestamp.has(u.seq));
    this.emit("board", { remote: true, arrived: performance.now() });
  }

  // MARK: What this page does

  /** Records an action of this page's person: applied now, sent when it can be. */
  record(action) {
    if (this.isViewer) return null;
    const update = { origin: this.peer, seq: ++this.lastSeq, timestamp: this.clock.tick(), action };
    this.replica.insert(update);
    this.pending.set(update.seq, update);
    this.unsent.push(update);
    this.store.save(this.room, this.peer, [update], this.lastSeq, this.clock.last);
    this.emit("pending");
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => { this.flushQueued = false; this.flush(); });
    }
    return update;
  }

  flush() {
    if (!this.helloReceived || !this.socket) return;
    const now = performance.now();
    this.sendTokens = Math.min(2 * SEND_RATE, (this.sendTokens ?? 2 * SEND_RATE) + (now - (this.tokensAt ?? now)) * SEND_RATE / 1000);
    this.tokensAt = now;
    while (this.inFlight.length < WINDOW && this.unsent.length > 0) {
      const allowed = Math.min(BATCH, Math.floor(this.sendTokens));
      if (allowed < 1) {
        clearTimeout(this.paceTimer);
        this.paceTimer = setTimeout(() => this.flush(), 50);
        return;
      }
      this.sendTokens -= Math.min(allowed, this.unsent.length);
      const batch = this.unsent.splice(0, allowed);
      if (!this.send({ type: "updates", updates: batch })) { this.unsent.unshift(...batch); return; }
      this.stats.sent += batch.length;
      this.inFlight.push(batch.map((update) => ({ update, stamp: update.timestamp })));
    }
  }

  /** Shares where this person's pointer is (at most every 33 ms). */
  setPresence(change) {
    Object.assign(this.myPresence, change);
    this.sendPresence(false);
  }

  sendPresence(now) {
    if (!this.helloReceived) return;
    const wait = PRESENCE_MS - (performance.now() - (this.presenceSentAt ?? -Infinity));
    if (now || wait <= 0) {
      clearTimeout(this.presenceTimer);
      this.presenceTimer = null;
      this.presenceSentAt = performance.now();
      this.send({ type: "presence", origin: this.peer, payload: encodePresence(this.myPresence) });
    } else if (!this.presenceTimer) {
      this.presenceTimer = setTimeout(() => { this.presenceTimer = null; this.sendPresence(true); }, wait);
    }
  }

  /** Whether (origin, seq) of this page is durable on the server. */
  isDurable(seq) { return seq <= this.lastSeq && !this.pending.has(seq); }

  /** Ends the session (the page is going away). */
  stop() {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    clearTimeout(this.retryTimer);
    if (this.socket) {
      this.send({ type: "goodbye", reason: { code: CLOSE.normal } });
      this.socket.close(1000);
    }
  }
}

