// Draws the board from its vectors onto a canvas, as the SVG and PNG
// exports do: one board unit is `scale` CSS pixels, a point sits at the
// centre of its unit, strokes are one unit wide with round ends, text is
// two units tall and one unit per character.
//
// Two layers: a cached bitmap of the settled elements, and the live ones
// (strokes still being drawn, the element being moved) drawn above it on
// every frame. A new settled element above everything in the cache is drawn
// onto it; any other change rebuilds the cache.

import { compareZ, styleOf } from "./model.js";

/** The sRGB colour of an xterm 256-colour index (Palette.rgb). */
export function paletteRGB(index) {
  const system = [
    [0, 0, 0], [205, 0, 0], [0, 205, 0], [205, 205, 0], [0, 0, 238], [205, 0, 205], [0, 205, 205], [229, 229, 229],
    [127, 127, 127], [255, 0, 0], [0, 255, 0], [255, 255, 0], [92, 92, 255], [255, 0, 255], [0, 255, 255], [255, 255, 255],
  ];
  if (index < 16) return system[index];
  if (index < 232) {
    const levels = [0, 95, 135, 175, 215, 255];
    const cube = index - 16;
    return [levels[Math.floor(cube / 36)], levels[Math.floor(cube / 6) % 6], levels[cube % 6]];
  }
  const gray = 8 + (index - 232) * 10;
  return [gray, gray, gray];
}
const HEX = Array.from({ length: 256 }, (_, index) => "#" + paletteRGB(index).map((v) => v.toString(16).padStart(2, "0")).join(""));
export function paletteHex(index) { return HEX[index]; }

/** The view: which board point is at the canvas's top left, and pixels per unit. */
export class View {
  constructor(x = -4, y = -4, scale = 8) { this.x = x; this.y = y; this.scale = scale; }
  toScreen(x, y) { return [(x + 0.5 - this.x) * this.scale, (y + 0.5 - this.y) * this.scale]; }
  toBoard(sx, sy) { return [sx / this.scale + this.x - 0.5, sy / this.scale + this.y - 0.5]; }
  /** The board rectangle a canvas of `width` × `height` CSS pixels shows. */
  visible(width, height) {
    return { minX: Math.floor(this.x) - 2, minY: Math.floor(this.y) - 2,
      maxX: Math.ceil(this.x + width / this.scale) + 2, maxY: Math.ceil(this.y + height / this.scale) + 2 };
  }
}

/** Draws elements in order, batching consecutive unfilled outlines of one colour into one path. */
function drawElements(ctx, elements, view, area, offsets) {
  const s = view.scale;
  let pathColor = null;
  const finish = () => { if (pathColor !== null) { ctx.stroke(); pathColor = null; } };
  for (const element of elements) {
    const extra = offsets?.get(element.id);
    const dx = extra ? element.offset[0] + extra[0] : element.offset[0];
    const dy = extra ? element.offset[1] + extra[1] : element.offset[1];
    const b = element.shapeBounds;
    if (b.minX + dx > area.maxX || b.maxX + dx < area.minX || b.minY + dy > area.maxY || b.maxY + dy < area.minY) continue;
    const style = element.restyles.size === 0 ? element.createdStyle : styleOf(element);
    const color = HEX[style.color];
    const shape = element.shape;
    // Screen x of board x is x * s + ox (and y likewise).
    const ox = (dx + 0.5 - view.x) * s, oy = (dy + 0.5 - view.y) * s;
    const kind = shape.kind;
    if (kind === "stroke" || kind === "line" || ((kind === "rectangle" || kind === "ellipse") && !style.filled)) {
      if (pathColor !== color) { finish(); ctx.strokeStyle = color; ctx.beginPath(); pathColor = color; }
      if (kind === "stroke") {
        const { points, count } = shape;
        ctx.moveTo(points[0] * s + ox, points[1] * s + oy);
        if (count === 1) ctx.lineTo(points[0] * s + ox + 0.01, points[1] * s + oy);
        for (let p = 2, end = 2 * count; p < end; p += 2) ctx.lineTo(points[p] * s + ox, points[p + 1] * s + oy);
      } else if (kind === "line") {
        const same = shape.a[0] === shape.b[0] && shape.a[1] === shape.b[1];
        ctx.moveTo(shape.a[0] * s + ox, shape.a[1] * s + oy);
        ctx.lineTo(shape.b[0] * s + ox + (same ? 0.01 : 0), shape.b[1] * s + oy);
      } else if (kind === "rectangle") {
        const r = shape.rect;
        ctx.moveTo(r.minX * s + ox, r.minY * s + oy);
        ctx.rect(r.minX * s + ox, r.minY * s + oy, (r.maxX - r.minX) * s, (r.maxY - r.minY) * s);
      } else {
        const r = shape.rect;
        const cx = (r.minX + r.maxX) / 2 * s + ox, cy = (r.minY + r.maxY) / 2 * s + oy;
        const rx = Math.max((r.maxX - r.minX) / 2 * s, 0.01), ry = Math.max((r.maxY - r.minY) / 2 * s, 0.01);
        ctx.moveTo(cx + rx, cy);
        ctx.ellipse(cx, cy, rx, ry, 0, 0, Math.PI * 2);
      }
      continue;
    }
    finish();
    ctx.fillStyle = color;
    if (kind === "rectangle") {
      const r = shape.rect;
      ctx.fillRect(r.minX * s + ox, r.minY * s + oy, (r.maxX - r.minX) * s, (r.maxY - r.minY) * s);
    } else if (kind === "ellipse") {
      const r = shape.rect;
      ctx.beginPath();
      ctx.ellipse((r.minX + r.maxX) / 2 * s + ox, (r.minY + r.maxY) / 2 * s + oy, Math.max((r.maxX - r.minX) / 2 * s, 0.01),
        Math.max((r.maxY - r.minY) / 2 * s, 0.01), 0, 0, Math.PI * 2);
      ctx.fill();
    } else if (kind === "text") {
      drawText(ctx, shape.text, (shape.at[0] + dx - view.x) * s, (shape.at[1] + dy - view.y + 1.7) * s, s);
    }
  }
  finish();
}

const TEXT_FONT = '"DejaVu Sans Mono", "Menlo", "Consolas", monospace';
let measuredAdvance = null;

/** One line of text, one unit per character (SVG's textLength). */
function drawText(ctx, text, left, baseline, s) {
  const font = `${2 * s}px ${TEXT_FONT}`;
  if (ctx.currentFont !== font) { ctx.font = font; ctx.currentFont = font; }
  if (measuredAdvance === null) measuredAdvance = ctx.measureText("M").width / (2 * s);
  const ratio = ctx.ratio ?? 1;
  ctx.setTransform(ratio / measuredAdvance / 2, 0, 0, ratio, ratio * left, ratio * baseline);
  ctx.fillText(text, 0, 0);
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
}

/** An open stroke untouched this long is drawn as settled (its author may be gone). */
const LIVE_MS = 5000;
/** The newest this many milliseconds of the order are drawn afresh on every frame. */
const RECENT_MS = 1000;

export class Renderer {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.layer = document.createElement("canvas");
    this.layerCtx = this.layer.getContext("2d");
    this.view = new View();
    /** The newest element (in the order) the cache holds, or null. */
    this.baseTop = null;
    this.touched = new Map();
    this.full = true;
    this.rebuilds = 0;
  }

  /** Canvas size in CSS pixels, and the device pixel ratio. */
  resize() {
    const ratio = window.devicePixelRatio || 1;
    const width = this.canvas.clientWidth, height = this.canvas.clientHeight;
    if (this.width === width && this.height === height && this.ratio === ratio) return;
    [this.width, this.height, this.ratio] = [width, height, ratio];
    for (const canvas of [this.canvas, this.layer]) {
      canvas.width = Math.max(1, Math.round(width * ratio));
      canvas.height = Math.max(1, Math.round(height * ratio));
    }
    this.full = true;
  }

  invalidate() { this.full = true; }

  prepare(ctx) {
    ctx.setTransform(this.ratio, 0, 0, this.ratio, 0, 0);
    ctx.ratio = this.ratio;
    ctx.lineWidth = this.view.scale;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.textBaseline = "alphabetic";
  }

  /**
   * Takes the replica's changes since the last frame (`ids`, or `all`): a
   * change to an element the cache holds means rebuilding it; anything
   * above the cache is drawn fresh on every frame anyway.
   */
  absorb(board, changes) {
    const now = performance.now();
    if (changes.all) this.full = true;
    for (const id of changes.ids) {
      this.touched.set(id, now);
      if (this.full) continue;
      const element = board.elements.get(id);
      if (!element || (this.baseTop !== null && compareZ(element, this.baseTop) <= 0)) this.full = true;
    }
  }

  /**
   * Where the cache stops: at the oldest stroke still being drawn (touched
   * lately), and at most at the newest element's time less RECENT_MS, so
   * that an update arriving a little late in the order lands above the
   * cache instead of making it be rebuilt. Null: nowhere.
   */
  cut(board, now) {
    let cut = null;
    for (const [id, at] of this.touched) {
      const element = board.elements.get(id);
      if (now - at > LIVE_MS || !element || !element.open) { this.touched.delete(id); continue; }
      if (cut === null || compareZ(element, cut) < 0) cut = element;
    }
    let newest = -Infinity;
    for (const element of board.elements.values()) if (element.zh > newest) newest = element.zh;
    const recent = { zh: newest - RECENT_MS, zl: 0, z: { origin: "" } };
    return newest > -Infinity && (cut === null || compareZ(recent, cut) < 0) ? recent : cut;
  }

  /**
   * Draws a frame. The cache holds every visible element up to `baseTop` in
   * the order, except those being moved; each frame it takes in, on top,
   * what has settled above it (everything below the oldest live stroke),
   * and what lies above is drawn afresh, then the elements being moved
   * (`moving`, shifted by `offsets`), then `overlay(ctx)`.
   */
  draw(board, moving, offsets, overlay) {
    this.resize();
    const area = this.view.visible(this.width, this.height);
    const cut = this.cut(board, performance.now());
    const movingKey = [...moving].join(" ");
    if (movingKey !== this.movingKey) { this.movingKey = movingKey; this.full = true; }
    if (this.full) {
      this.full = false;
      this.rebuilds += 1;
      this.baseTop = null;
      const ctx = this.layerCtx;
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.fillStyle = "#000000";
      ctx.fillRect(0, 0, this.layer.width, this.layer.height);
      this.prepare(ctx);
      this.drawGrid(ctx);
    }
    const settling = [];
    const above = [];
    for (const element of board.elements.values()) {
      if (element.hiddenBy.size > 0 || moving.has(element.id)) continue;
      if (this.baseTop !== null && compareZ(element, this.baseTop) <= 0) continue;
      if (cut === null || compareZ(element, cut) < 0) settling.push(element); else above.push(element);
    }
    if (settling.length > 0) {
      settling.sort(compareZ);
      this.prepare(this.layerCtx);
      drawElements(this.layerCtx, settling, this.view, area);
      this.baseTop = settling[settling.length - 1];
    }
    const ctx = this.ctx;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.drawImage(this.layer, 0, 0);
    if (above.length > 0 || moving.size > 0) {
      this.prepare(ctx);
      above.sort(compareZ);
      for (const id of moving) { const element = board.elements.get(id); if (element?.hiddenBy.size === 0) above.push(element); }
      drawElements(ctx, above, this.view, area, offsets);
    }
    overlay?.(ctx);
  }

  drawGrid(ctx) {
    const s = this.view.scale;
    const step = s >= 6 ? 8 : s >= 2 ? 32 : 128;
    if (step * s < 12) return;
    ctx.fillStyle = "#1b1f29";
    const area = this.view.visible(this.width, this.height);
    const size = Math.max(1, Math.min(2, s / 6));
    for (let x = Math.floor(area.minX / step) * step; x <= area.maxX; x += step) {
      for (let y = Math.floor(area.minY / step) * step; y <= area.maxY; y += step) {
        const [px, py] = this.view.toScreen(x, y);
        ctx.fillRect(px - size / 2, py - size / 2, size, size);
      }
    }
  }

  /** Draws given elements (a preview) in the current view. */
  drawPreview(ctx, elements) {
    this.prepare(ctx);
    ctx.globalAlpha = 0.75;
    drawElements(ctx, elements, this.view, this.view.visible(this.width, this.height));
    ctx.globalAlpha = 1;
  }

  /** Fits `bounds` (board units) into the canvas. */
  fit(bounds) {
    this.resize();
    if (!bounds) { this.view = new View(-4, -4, 8); this.full = true; return; }
    const [minX, minY, maxX, maxY] = bounds;
    const width = maxX - minX + 5, height = maxY - minY + 5;
    const scale = Math.max(0.25, Math.min(32, Math.min(this.width / width, this.height / height)));
    this.view = new View(
      (minX + maxX) / 2 + 0.5 - this.width / scale / 2, (minY + maxY) / 2 + 0.5 - this.height / scale / 2, scale);
    this.full = true;
  }

  /** Zooms by `factor` keeping the board point under (sx, sy) in place. */
  zoomAt(factor, sx, sy) {
    const scale = Math.max(0.25, Math.min(64, this.view.scale * factor));
    const [bx, by] = this.view.toBoard(sx, sy);
    this.view = new View(bx + 0.5 - sx / scale, by + 0.5 - sy / scale, scale);
    this.full = true;
  }

  panBy(dx, dy) {
    this.view = new View(this.view.x - dx / this.view.scale, this.view.y - dy / this.view.scale, this.view.scale);
    this.full = true;
  }
}

