// The inpainting mask as cells of the model's pixel grid: one cell per sprite pixel for a model that draws at
// a native size (the sprite model's 32×32), else blocks of the model's art pixel (or of 8 image pixels, a
// latent pixel). Sent as a PNG of the init image's own size (the server wants the two the same size).

const LATENT_PIXEL = 8; // image pixels per latent pixel of the diffusers VAEs
const MAX_CELLS = 128; // per side: finer than this is no longer drawn cell by cell

export class MaskGrid {
  /** imageWidth × imageHeight: the init image; model: the /models entry (native_size, pixel_pitch) or null. */
  constructor(imageWidth, imageHeight, model) {
    this.imageWidth = imageWidth;
    this.imageHeight = imageHeight;
    if (model?.native_size) {
      [this.cols, this.rows] = model.native_size;
    } else {
      const cell = Math.max(model?.pixel_pitch ?? LATENT_PIXEL, Math.max(imageWidth, imageHeight) / MAX_CELLS, 1);
      this.cols = Math.max(1, Math.ceil(imageWidth / cell));
      this.rows = Math.max(1, Math.ceil(imageHeight / cell));
    }
    this.cells = new Uint8Array(this.cols * this.rows); // 1 = repaint
  }

  sameShape(other) {
    return other && other.cols === this.cols && other.rows === this.rows
      && other.imageWidth === this.imageWidth && other.imageHeight === this.imageHeight;
  }

  /** The marks of another grid over the same image, cell by cell at each cell's centre. */
  takeFrom(other) {
    for (let row = 0; row < this.rows; row += 1) {
      for (let col = 0; col < this.cols; col += 1) {
        const from = Math.floor(((row + 0.5) / this.rows) * other.rows) * other.cols
          + Math.floor(((col + 0.5) / this.cols) * other.cols);
        this.cells[row * this.cols + col] = other.cells[from];
      }
    }
  }

  /** The marks of a mask image (white = repaint), read at each cell's centre. */
  takeFromImage(image, doc = document) {
    const canvas = doc.createElement("canvas");
    canvas.width = this.cols;
    canvas.height = this.rows;
    const context = canvas.getContext("2d");
    context.imageSmoothingEnabled = false;
    context.drawImage(image, 0, 0, this.cols, this.rows);
    const { data } = context.getImageData(0, 0, this.cols, this.rows);
    for (let i = 0; i < this.cells.length; i += 1) this.cells[i] = data[i * 4] >= 128 ? 1 : 0;
  }

  get(col, row) {
    return this.cells[row * this.cols + col];
  }

  /** Set a size × size square of cells whose top-left cell is (col, row), clipped to the grid. */
  paint(col, row, size, value) {
    for (let y = row; y < Math.min(row + size, this.rows); y += 1) {
      for (let x = col; x < Math.min(col + size, this.cols); x += 1) {
        if (x >= 0 && y >= 0) this.cells[y * this.cols + x] = value;
      }
    }
  }

  clear() {
    this.cells.fill(0);
  }

  invert() {
    for (let i = 0; i < this.cells.length; i += 1) this.cells[i] = 1 - this.cells[i];
  }

  get empty() {
    return !this.cells.includes(1);
  }

  get count() {
    return this.cells.reduce((sum, value) => sum + value, 0);
  }

  /** The image pixels [start, end) that column (or row) ``index`` of ``count`` covers in ``size`` pixels. */
  static span(index, count, size) {
    return [Math.round((index * size) / count), Math.round(((index + 1) * size) / count)];
  }

  /** A data: URL of the mask as a PNG at the init image's size: white = repaint, black = keep. */
  toPng(doc = document) {
    const canvas = doc.createElement("canvas");
    canvas.width = this.imageWidth;
    canvas.height = this.imageHeight;
    const context = canvas.getContext("2d");
    context.fillStyle = "#000";
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.fillStyle = "#fff";
    for (let row = 0; row < this.rows; row += 1) {
      const [top, bottom] = MaskGrid.span(row, this.rows, this.imageHeight);
      for (let col = 0; col < this.cols; col += 1) {
        if (!this.get(col, row)) continue;
        const [left, right] = MaskGrid.span(col, this.cols, this.imageWidth);
        context.fillRect(left, top, right - left, bottom - top);
      }
    }
    return canvas.toDataURL("image/png");
  }
}
