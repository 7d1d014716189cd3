// The stage: the live preview while a task runs, then its newest finished image.
// No flicker: a new picture is fully loaded and decoded off-screen before it replaces the old
// one, and while one loads only the newest announced preview is queued behind it.
import { t } from "./i18n.js";
import { fileUrl, imageUrl, latestPreviewUrl } from "./api.js";

export class Stage {
  constructor(doc = document) {
    this.frame = doc.getElementById("stage-frame");
    this.empty = doc.getElementById("stage-empty");
    this.caption = doc.getElementById("stage-caption");
    this.taskId = null;
    this.loading = false;
    this.pending = null; // {url, kind, caption}
    this.shownPreview = -1;
    this.announced = 0;
    this.captionKey = null;
  }

  /** Forget the previous task's pictures (a new task starts). */
  reset(taskId) {
    this.taskId = taskId;
    this.pending = null;
    this.shownPreview = -1;
    this.announced = 0;
    this.frame.querySelector("img")?.remove();
    this.empty.hidden = false;
    this.setCaption(null);
  }

  /** A preview event's data: its id and URL. */
  preview({ id: previewId, url }) {
    this.announced = Math.max(this.announced, previewId);
    if (previewId <= this.shownPreview) return;
    this.enqueue({ url: fileUrl(url), kind: "preview", previewId });
  }

  /** After a reload: whatever preview the server has now (404 until the first one). */
  latestPreview() {
    this.enqueue({ url: `${latestPreviewUrl(this.taskId)}?t=${Date.now()}`, kind: "preview", previewId: 0 });
  }

  result(image) {
    // Previews announced so far are older than this image; a later job's previews still show.
    this.shownPreview = Math.max(this.shownPreview, this.announced);
    this.enqueue({ url: imageUrl(image), kind: "result", image });
  }

  /** The task is over: show its last image (or keep the last picture) and take no more previews. */
  finish(image) {
    if (image) this.result(image);
    this.shownPreview = Number.MAX_SAFE_INTEGER;
  }

  enqueue(item) {
    this.pending = item;
    if (!this.loading) this.pump();
  }

  async pump() {
    while (this.pending) {
      const item = this.pending;
      const taskId = this.taskId;
      this.pending = null;
      this.loading = true;
      const img = new Image();
      img.src = item.url;
      img.alt = "";
      try {
        await img.decode();
      } catch {
        continue; // gone (404) or not an image: keep showing what we have
      } finally {
        this.loading = false;
      }
      if (taskId !== this.taskId) continue;
      if (item.kind === "preview") {
        if (item.previewId === 0 ? this.shownPreview >= 0 : item.previewId <= this.shownPreview) continue;
        this.shownPreview = Math.max(this.shownPreview, item.previewId);
      }
      this.show(img, item);
    }
  }

  show(img, item) {
    img.className = `stage-image stage-${item.kind}`;
    img.dataset.kind = item.kind;
    img.alt = item.kind === "preview" ? t("stagePreview") : t("imageAlt", { index: item.image.index, seed: item.image.seed });
    const old = this.frame.querySelector("img");
    if (old) old.replaceWith(img);
    else this.frame.append(img);
    this.empty.hidden = true;
    this.setCaption(item.kind === "preview" ? ["stagePreview", {}] : ["stageResult", item.image]);
  }

  setCaption(key) {
    this.captionKey = key;
    this.caption.textContent = key ? t(key[0], key[1]) : "";
  }

  refresh() {
    this.setCaption(this.captionKey);
    const img = this.frame.querySelector("img");
    if (img && this.captionKey) img.alt = t(this.captionKey[0] === "stagePreview" ? "stagePreview" : "imageAlt", this.captionKey[1]);
  }
}
