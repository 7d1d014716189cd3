// The mask editor: the init image under its mask, zoomed with crisp pixels, one square per mask cell. The
// pointer paints (right button or the Erase mode erases); on the keyboard the arrows move a cursor cell and
// Space or Enter paints there, Shift+arrows paint while moving.
import { t } from "./i18n.js";
import { MaskGrid } from "./maskgrid.js";

const VIEW_SIDE = 384; // CSS pixels of the canvas's longer side
const STEPS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

export class MaskEditor {
  constructor(doc = document) {
    this.fieldset = doc.getElementById("mask-editor");
    this.canvas = doc.getElementById("mask-canvas");
    this.note = doc.getElementById("mask-note");
    this.brush = doc.getElementById("mask_brush");
    this.modes = [...doc.getElementsByName("mask_mode")];
    this.context = this.canvas.getContext("2d");
    this.image = null; // the decoded init image (an HTMLImageElement)
    this.grid = null;
    this.cursor = { col: 0, row: 0 };
    this.stroke = null; // {value, col, row}: the pointer's last painted cell while a button is down
    doc.getElementById("mask-clear").addEventListener("click", () => this.change(() => this.grid.clear()));
    doc.getElementById("mask-invert").addEventListener("click", () => this.change(() => this.grid.invert()));
    this.canvas.addEventListener("pointerdown", (event) => this.pointerDown(event));
    this.canvas.addEventListener("pointermove", (event) => this.pointerMove(event));
    this.canvas.addEventListener("pointerup", () => this.pointerUp());
    this.canvas.addEventListener("pointercancel", () => this.pointerUp());
    this.canvas.addEventListener("contextmenu", (event) => event.preventDefault());
    this.canvas.addEventListener("keydown", (event) => this.keyDown(event));
    this.canvas.addEventListener("focus", () => this.draw());
    this.canvas.addEventListener("blur", () => this.draw());
  }

  /** A new init image (or null), on the grid of ``model``; the marks start empty. */
  setImage(image, model) {
    this.image = image;
    this.grid = image ? new MaskGrid(image.naturalWidth, image.naturalHeight, model) : null;
    this.fieldset.hidden = !image;
    this.layout();
  }

  /** Another model: its grid, keeping what was drawn (resampled cell by cell). */
  setModel(model) {
    if (!this.image) return;
    const grid = new MaskGrid(this.image.naturalWidth, this.image.naturalHeight, model);
    if (grid.sameShape(this.grid)) return;
    grid.takeFrom(this.grid);
    this.grid = grid;
    this.layout();
  }

  /** Marks read from a mask image (white = repaint), as it was sent with a task. */
  setMarks(maskImage) {
    if (!this.grid) return;
    this.grid.takeFromImage(maskImage);
    this.draw();
  }

  /** The mask PNG to send, or null when nothing is marked (plain img2img). */
  maskPng() {
    return this.grid && !this.grid.empty ? this.grid.toPng() : null;
  }

  get mode() {
    return this.modes.find((radio) => radio.checked)?.value ?? "draw";
  }

  layout() {
    if (!this.grid) return;
    const { cols, rows } = this.grid;
    const zoom = Math.max(1, Math.floor(VIEW_SIDE / Math.max(cols, rows)));
    this.canvas.width = cols * zoom;
    this.canvas.height = rows * zoom;
    this.zoom = zoom;
    this.cursor = { col: Math.min(this.cursor.col, cols - 1), row: Math.min(this.cursor.row, rows - 1) };
    this.canvas.dataset.cols = String(cols);
    this.canvas.dataset.rows = String(rows);
    this.draw();
  }

  change(action) {
    if (!this.grid) return;
    action();
    this.draw();
  }

  draw() {
    if (!this.grid) return;
    const { context, canvas, zoom, grid } = this;
    context.imageSmoothingEnabled = false;
    context.clearRect(0, 0, canvas.width, canvas.height);
    context.drawImage(this.image, 0, 0, canvas.width, canvas.height);
    context.fillStyle = "rgb(255 255 255 / 0.8)";
    for (let row = 0; row < grid.rows; row += 1) {
      for (let col = 0; col < grid.cols; col += 1) {
        if (grid.get(col, row)) context.fillRect(col * zoom, row * zoom, zoom, zoom);
      }
    }
    if (zoom >= 6) this.drawGridLines();
    if (document.activeElement === canvas) {
      const size = this.brushSize;
      context.strokeStyle = "#ffa300";
      context.lineWidth = 2;
      context.strokeRect(this.cursor.col * zoom + 1, this.cursor.row * zoom + 1, size * zoom - 2, size * zoom - 2);
    }
    this.canvas.dataset.marked = String(grid.count);
    const key = grid.count ? "maskNote" : "maskNoteNone";
    this.note.textContent = t(key, { cols: grid.cols, rows: grid.rows, marked: grid.count, cells: grid.cols * grid.rows });
  }

  drawGridLines() {
    const { context, canvas, zoom } = this;
    context.fillStyle = "rgb(0 0 0 / 0.18)";
    for (let x = zoom; x < canvas.width; x += zoom) context.fillRect(x, 0, 1, canvas.height);
    for (let y = zoom; y < canvas.height; y += zoom) context.fillRect(0, y, canvas.width, 1);
  }

  get brushSize() {
    return Number(this.brush.value) || 1;
  }

  /** The grid cell under a pointer event. */
  cellAt(event) {
    const box = this.canvas.getBoundingClientRect();
    const clamp = (value, count) => Math.min(count - 1, Math.max(0, Math.floor(value * count)));
    return {
      col: clamp((event.clientX - box.left) / box.width, this.grid.cols),
      row: clamp((event.clientY - box.top) / box.height, this.grid.rows),
    };
  }

  pointerDown(event) {
    if (!this.grid || (event.button !== 0 && event.button !== 2)) return;
    event.preventDefault();
    this.canvas.focus();
    this.canvas.setPointerCapture?.(event.pointerId);
    const value = event.button === 2 || this.mode === "erase" ? 0 : 1;
    const cell = this.cellAt(event);
    this.stroke = { value, ...cell };
    this.cursor = cell;
    this.change(() => this.grid.paint(cell.col, cell.row, this.brushSize, value));
  }

  pointerMove(event) {
    if (!this.stroke) return;
    const cell = this.cellAt(event);
    const from = this.stroke;
    // Every cell on the way: a fast drag reports few points.
    const steps = Math.max(Math.abs(cell.col - from.col), Math.abs(cell.row - from.row));
    this.change(() => {
      for (let i = 1; i <= steps; i += 1) {
        const col = Math.round(from.col + ((cell.col - from.col) * i) / steps);
        const row = Math.round(from.row + ((cell.row - from.row) * i) / steps);
        this.grid.paint(col, row, this.brushSize, from.value);
      }
    });
    this.stroke = { value: from.value, ...cell };
    this.cursor = cell;
  }

  pointerUp() {
    this.stroke = null;
  }

  keyDown(event) {
    if (!this.grid || event.ctrlKey || event.metaKey || event.altKey) return;
    const value = this.mode === "erase" ? 0 : 1;
    if (event.key in STEPS) {
      const [dx, dy] = STEPS[event.key];
      this.cursor = {
        col: Math.min(this.grid.cols - 1, Math.max(0, this.cursor.col + dx)),
        row: Math.min(this.grid.rows - 1, Math.max(0, this.cursor.row + dy)),
      };
      if (event.shiftKey) this.grid.paint(this.cursor.col, this.cursor.row, this.brushSize, value);
    } else if (event.key === " " || event.key === "Enter") {
      this.grid.paint(this.cursor.col, this.cursor.row, this.brushSize, value);
    } else {
      return;
    }
    event.preventDefault();
    this.draw();
  }

  refresh() {
    this.draw();
  }
}
