// Finished images: each at 1× (its true pixels) and scaled up with crisp pixels, with downloads and
// "Use as input" (img2img); a skipped job of the batch keeps its place, marked, with the seeds it would have used.
import { t } from "./i18n.js";
import { fileUrl, imageUrl } from "./api.js";
import { skippedJobs } from "./state.js";
import { storage } from "./storage.js";

export class Gallery {
  /** onUseAsInput(image, taskId): "Use as input" on an image. */
  constructor({ onUseAsInput }, doc = document) {
    this.onUseAsInput = onUseAsInput;
    this.list = doc.getElementById("gallery");
    this.empty = doc.getElementById("gallery-empty");
    this.scaleSelect = doc.getElementById("gallery-scale");
    this.images = new Map(); // index -> image
    this.taskId = null;
    this.sheetUrl = null;
    this.skipped = []; // jobs skipped, 0-based
    this.params = null;
    this.attachNo = 0; // the UI state's attach this gallery shows
    this.sheet = doc.getElementById("gallery-sheet");
    this.sheetLink = doc.getElementById("sheet-link");
    this.scaleSelect.value = String(storage.get("galleryScale", 4));
    this.scaleSelect.addEventListener("change", () => {
      storage.set("galleryScale", this.scale);
      this.render();
    });
  }

  get scale() {
    return Number(this.scaleSelect.value) || 4;
  }

  /** Follows the UI state (see state.js): the attached task's images, sprite sheet and skipped jobs; a new attach
   * starts over. */
  update({ task, attachNo }) {
    if (attachNo !== this.attachNo) {
      this.attachNo = attachNo;
      this.reset(task.id);
    }
    for (const image of task.images) this.add(image);
    this.setSheet(task.sheet_url);
    this.setSkipped(skippedJobs(task), task.params);
  }

  reset(taskId) {
    this.taskId = taskId;
    this.sheetUrl = null;
    this.skipped = [];
    this.images.clear();
    this.render();
  }

  /** The task's skipped jobs (see skippedJobs) and its params, for the seeds they would have used. */
  setSkipped(jobs, params) {
    if (jobs.join() === this.skipped.join()) return;
    this.skipped = jobs;
    this.params = params;
    this.render();
  }

  /** Add one image (an ImageOut, or an image event's data plus the task id); duplicates are ignored
   * unless the newer one lists other files. */
  add(image) {
    const known = this.images.get(image.index);
    if (known && sameFiles(known.files, image.files)) return;
    this.images.set(image.index, image);
    this.render();
  }

  /** The task's sprite sheet (TaskOut.sheet_url), or null. */
  setSheet(url) {
    if ((url ?? null) === this.sheetUrl) return;
    this.sheetUrl = url ?? null;
    this.renderSheet();
  }

  renderSheet() {
    this.sheet.hidden = !this.sheetUrl;
    if (this.sheetUrl) {
      this.sheetLink.href = fileUrl(this.sheetUrl);
      this.sheetLink.download = `${this.stem()}-sheet.png`;
    } else {
      this.sheetLink.removeAttribute("href");
    }
  }

  stem() {
    return `pixelforge-${(this.taskId ?? "task").replace(/[^A-Za-z0-9_-]+/g, "_")}`;
  }

  render() {
    const scale = this.scale;
    const entries = [
      ...[...this.images.values()].map((image) => ({ job: image.job_no, order: image.index, node: () => this.item(image, scale) })),
      ...this.skipped.map((job) => ({ job, order: -1, node: () => this.skippedItem(job) })),
    ].sort((a, b) => a.job - b.job || a.order - b.order);
    this.list.replaceChildren(...entries.map((entry) => entry.node()));
    this.empty.hidden = entries.length > 0;
    this.renderSheet();
  }

  item(image, scale) {
    const li = document.createElement("li");
    li.className = "gallery-item";
    li.dataset.index = String(image.index);
    const alt = t("imageAlt", { index: image.index, seed: image.seed });

    const figure = document.createElement("figure");
    const big = document.createElement("img");
    big.className = "pixelated scaled";
    big.src = imageUrl(image);
    big.width = image.width * scale;
    big.height = image.height * scale;
    big.alt = alt;
    const small = document.createElement("img");
    small.className = "pixelated one-x";
    small.src = imageUrl(image);
    small.width = image.width;
    small.height = image.height;
    small.alt = `${alt} (1×)`;

    const caption = document.createElement("figcaption");
    caption.textContent = t("imageCaption", image);
    if (image.partial) {
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = t("partial");
      caption.append(" ", badge);
    }
    figure.append(big, small, caption);

    const links = document.createElement("p");
    links.className = "downloads";
    const stem = `${this.stem()}-${image.index}`;
    links.append(
      download(imageUrl(image), `${stem}.png`, t("download1x")),
      download(imageUrl(image, scale), `${stem}-${scale}x.png`, t("downloadScaled", { scale })),
    );
    // The pixel-art stage's outputs: the palette and the model's own image.
    const files = image.files ?? {};
    for (const [kind, suffix, key] of [["gpl", ".gpl", "downloadGpl"], ["hex", ".hex", "downloadHex"], ["raw", "-raw.png", "downloadRaw"]]) {
      if (!files[kind]) continue;
      const link = download(fileUrl(files[kind]), `${stem}${suffix}`, t(key));
      link.dataset.kind = kind;
      links.append(link);
    }
    const use = document.createElement("button");
    use.type = "button";
    use.className = "btn btn-small use-input";
    use.textContent = t("useAsInput");
    use.setAttribute("aria-label", t("useAsInputLabel", { index: image.index, seed: image.seed }));
    const taskId = this.taskId;
    use.addEventListener("click", () => this.onUseAsInput(image, taskId));
    links.append(use);
    li.append(figure, links);
    return li;
  }

  /** A job that was skipped: its place in the batch and the seeds it would have used (seed + job·size + k). */
  skippedItem(job) {
    const li = document.createElement("li");
    li.className = "gallery-item skipped";
    li.dataset.job = String(job);
    const size = this.params?.batch_size ?? 1;
    const first = (this.params?.seed ?? 0) + job * size;
    const seeds = size > 1 ? `${first}–${first + size - 1}` : String(first);
    li.textContent = t("skippedItem", { job: job + 1, seeds });
    return li;
  }
}

function sameFiles(a = {}, b = {}) {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}

function download(href, filename, text) {
  const a = document.createElement("a");
  a.href = href;
  a.download = filename;
  a.textContent = text;
  a.className = "btn btn-small";
  return a;
}
