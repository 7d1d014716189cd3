// The img2img input: an image picked, dropped on the page, pasted (Ctrl+V) or taken from the gallery
// ("Use as input"); its thumbnail and size, the denoising strength, and the mask drawn on it. The file goes
// to the server as it is (a data: URL in the task's JSON): the server checks it and says what is wrong.
import { t } from "./i18n.js";

export class ImageInput {
  /** mask: the MaskEditor; model: () => the selected model's /models entry (its grid), or null. */
  constructor({ mask, model }, doc = document) {
    this.mask = mask;
    this.model = model;
    this.group = doc.getElementById("img2img-group");
    this.summary = doc.getElementById("img2img-summary");
    this.file = doc.getElementById("init_image");
    this.loaded = doc.getElementById("init-loaded");
    this.thumb = doc.getElementById("init-thumb");
    this.size = doc.getElementById("init-size");
    this.strength = doc.getElementById("denoising_strength");
    this.strengthValue = doc.getElementById("denoising-value");
    this.dataUrl = null; // the image as it will be sent
    this.name = "";
    this.decoded = null; // {width, height} when the browser could show it

    this.file.addEventListener("change", () => {
      if (this.file.files[0]) this.loadFile(this.file.files[0]);
    });
    doc.getElementById("init-remove").addEventListener("click", () => this.clear());
    this.strength.addEventListener("input", () => this.showStrength());
    // A file dropped anywhere on the page: the input image (instead of the browser leaving the page for it).
    doc.addEventListener("dragover", (event) => {
      if (hasFiles(event.dataTransfer)) event.preventDefault();
    });
    doc.addEventListener("drop", (event) => {
      const image = imageFile(event.dataTransfer);
      if (!image) return;
      event.preventDefault();
      this.loadFile(image);
    });
    doc.addEventListener("paste", (event) => {
      const image = imageFile(event.clipboardData);
      if (!image) return; // text goes where it was pasted
      event.preventDefault();
      this.loadFile(image);
    });
    this.showStrength();
    this.render();
  }

  get active() {
    return this.dataUrl !== null;
  }

  /** The img2img part of a task's body: the image, the mask when one is drawn, the strength; {} without one. */
  params() {
    if (!this.active) return {};
    const body = { init_image: this.dataUrl, img2img: { denoising_strength: Number(this.strength.value) } };
    const mask = this.decoded ? this.mask.maskPng() : null;
    if (mask) body.mask = mask;
    return body;
  }

  async loadFile(file) {
    this.file.removeAttribute("aria-invalid");
    await this.load(await readDataUrl(file), file.name);
  }

  /** An image of the server ("Use as input", a reused task's input), and the mask drawn on it (a URL too). */
  async loadUrl(url, name, maskUrl = null) {
    const [dataUrl, maskDataUrl] = await Promise.all([url, maskUrl].map((each) => each && fetchDataUrl(each)));
    this.file.value = "";
    await this.load(dataUrl, name);
    const mask = maskDataUrl ? await decode(maskDataUrl) : null;
    if (mask && this.dataUrl === dataUrl) this.mask.setMarks(mask);
  }

  async load(dataUrl, name) {
    this.dataUrl = dataUrl;
    this.name = name;
    this.group.open = true;
    const image = await decode(dataUrl);
    if (this.dataUrl !== dataUrl) return; // another image came while this one was decoding
    this.decoded = image ? { width: image.naturalWidth, height: image.naturalHeight } : null;
    this.thumb.hidden = !image;
    if (image) this.thumb.src = dataUrl;
    else this.thumb.removeAttribute("src");
    this.mask.setImage(image, this.model());
    this.render();
  }

  clear() {
    this.dataUrl = null;
    this.decoded = null;
    this.name = "";
    this.file.value = "";
    this.file.removeAttribute("aria-invalid");
    this.thumb.removeAttribute("src");
    this.mask.setImage(null, null);
    this.render();
  }

  /** The model changed: the mask follows its grid. */
  modelChanged() {
    this.mask.setModel(this.model());
  }

  showStrength() {
    this.strengthValue.textContent = Number(this.strength.value).toFixed(2);
  }

  /** Strength from a task's params (history "reuse"). */
  apply(img2img) {
    if (img2img?.denoising_strength !== undefined) this.strength.value = String(img2img.denoising_strength);
    this.showStrength();
    this.modelChanged(); // the form may have switched models
  }

  render() {
    this.loaded.hidden = !this.active;
    if (!this.active) {
      this.summary.textContent = "";
      return;
    }
    const size = this.decoded ? t("initSize", this.decoded) : t("initUnreadable");
    this.size.textContent = this.name ? `${this.name} · ${size}` : size;
    this.thumb.alt = t("initThumb", { name: this.name });
    this.summary.textContent = this.decoded ? `· ${this.decoded.width}×${this.decoded.height}` : "· ?";
  }

  refresh() {
    this.render();
    this.mask.refresh();
  }
}

function hasFiles(transfer) {
  return Boolean(transfer?.types?.includes("Files"));
}

/** The first image file of a drop or a paste, or null. */
function imageFile(transfer) {
  return [...(transfer?.files ?? [])].find((file) => file.type.startsWith("image/")) ?? null;
}

/** A file of the server, fetched with the page's identity, as a data: URL. */
async function fetchDataUrl(url) {
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return readDataUrl(await response.blob());
}

function readDataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

/** The decoded image, or null when the browser cannot show it (the server still gets it, and says why). */
function decode(dataUrl) {
  return new Promise((resolve) => {
    const image = new Image();
    image.onload = () => resolve(image.naturalWidth ? image : null);
    image.onerror = () => resolve(null);
    image.src = dataUrl;
  });
}
