// The stage: the live preview while a task runs, then its newest finished image; once a task stopped
// early it says so on the picture (a stale preview is dimmed and labelled, never left as "Live preview").
// No flicker: a new picture is fully loaded and decoded off-screen before it replaces the old
// one, and while one loads only the newest announced preview is queued behind it.
import { t } from "./i18n.js";
import { fileUrl, imageUrl, latestPreviewUrl } from "./api.js";
import { TERMINAL } from "./protocol.js";

export class Stage {
  constructor(doc = document) {
    this.frame = doc.getElementById("stage-frame");
    this.empty = doc.getElementById("stage-empty");
    this.caption = doc.getElementById("stage-caption");
    this.badge = doc.getElementById("stage-state");
    this.taskId = null;
    this.loading = false;
    this.pending = null; // {url, kind, caption}
    this.shownPreview = -1;
    this.announced = 0;
    this.shown = null; // what is on the stage: {kind: "preview"} or {kind: "result", image}
    this.ended = null; // the task's final state once it is over
    this.attachNo = 0; // the UI state's attach this stage shows
    this.images = 0; // the attached task's images seen
    this.latest = null; // the UI state's preview last taken
  }

  /** Follows the UI state (see state.js): a new attach starts over; then each new image of the attached task, its
   * newest preview, and its end. */
  update({ task, attachNo, preview }) {
    if (attachNo !== this.attachNo) {
      this.attachNo = attachNo;
      this.reset(task.id);
    }
    if (this.ended) return;
    if (TERMINAL.has(task.state)) {
      this.finish(task.images.at(-1), task.state);
      return;
    }
    if (task.images.length > this.images) this.result(task.images.at(-1));
    this.images = task.images.length;
    if (preview && preview !== this.latest) {
      if (preview.id === 0) this.latestPreview();
      else this.preview(preview);
    }
    this.latest = preview;
  }

  /** Forget the previous task's pictures (a new task starts). */
  reset(taskId) {
    this.taskId = taskId;
    this.pending = null;
    this.shownPreview = -1;
    this.announced = 0;
    this.frame.querySelector("img")?.remove();
    this.empty.hidden = false;
    this.shown = null;
    this.ended = null;
    this.images = 0;
    this.latest = null;
    this.renderLabels();
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

  /** The task is over: show its last image (or keep the last picture), say how it ended, take no more previews. */
  finish(image, state) {
    this.ended = state;
    // A result already on its way or shown stays; a preview still loading is no longer wanted.
    if (this.pending?.kind === "preview") this.pending = null;
    if (image && !(this.shown?.kind === "result" && this.shown.image.index === image.index)) this.result(image);
    this.shownPreview = Number.MAX_SAFE_INTEGER;
    this.renderLabels();
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
    this.shown = item.kind === "preview" ? { kind: "preview" } : { kind: "result", image: item.image };
    this.renderLabels();
  }

  /** Caption, picture text and the badge on the picture, from what is shown and how the task ended. */
  renderLabels() {
    const stopped = this.ended && this.ended !== "completed";
    const shown = this.shown;
    let caption = "";
    if (shown?.kind === "preview") caption = stopped ? t("stageLastPreview") : t("stagePreview");
    else if (shown) caption = t("stageResult", shown.image);
    if (stopped) caption = caption ? `${caption} · ${t(`state_${this.ended}`)}` : t(`state_${this.ended}`);
    this.caption.textContent = caption;
    this.frame.dataset.ended = stopped ? this.ended : "";
    this.badge.hidden = !stopped;
    this.badge.textContent = stopped ? t(`state_${this.ended}`) : "";
    const img = this.frame.querySelector("img");
    if (img && shown) img.alt = shown.kind === "preview" ? caption : t("imageAlt", shown.image);
  }

  refresh() {
    this.renderLabels();
  }
}
