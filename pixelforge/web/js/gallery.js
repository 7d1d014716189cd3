// Finished images: each at 1× (its true pixels) and scaled up with crisp pixels, with downloads.
import { t } from "./i18n.js";
import { imageUrl } from "./api.js";
import { storage } from "./storage.js";

export class Gallery {
  constructor(doc = document) {
    this.list = doc.getElementById("gallery");
    this.empty = doc.getElementById("gallery-empty");
    this.scaleSelect = doc.getElementById("gallery-scale");
    this.images = new Map(); // index -> image
    this.taskId = null;
    this.scaleSelect.value = String(storage.get("galleryScale", 4));
    this.scaleSelect.addEventListener("change", () => {
      storage.set("galleryScale", this.scale);
      this.render();
    });
  }

  get scale() {
    return Number(this.scaleSelect.value) || 4;
  }

  reset(taskId) {
    this.taskId = taskId;
    this.images.clear();
    this.render();
  }

  /** Add one image (an ImageOut, or an image event's data plus the task id); duplicates are ignored. */
  add(image) {
    if (this.images.has(image.index)) return;
    this.images.set(image.index, image);
    this.render();
  }

  render() {
    const scale = this.scale;
    const items = [...this.images.values()].sort((a, b) => a.index - b.index);
    this.list.replaceChildren(...items.map((image) => this.item(image, scale)));
    this.empty.hidden = items.length > 0;
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
    caption.textContent = `#${image.index} · ${image.width}×${image.height} · seed ${image.seed}`;
    if (image.partial) {
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = t("partial");
      caption.append(" ", badge);
    }
    figure.append(big, small, caption);

    const links = document.createElement("p");
    links.className = "downloads";
    const stem = `pixelforge-${(this.taskId ?? "task").replace(/[^A-Za-z0-9_-]+/g, "_")}-${image.index}`;
    links.append(
      download(imageUrl(image), `${stem}.png`, t("download1x")),
      download(imageUrl(image, scale), `${stem}-${scale}x.png`, t("downloadScaled", { scale })),
    );
    li.append(figure, links);
    return li;
  }
}

function download(href, filename, text) {
  const a = document.createElement("a");
  a.href = href;
  a.download = filename;
  a.textContent = text;
  a.className = "btn btn-small";
  return a;
}
