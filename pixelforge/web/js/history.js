// The caller's tasks, newest first (GET /api/v1/tasks, read by the controller): parameters, state, a thumbnail; a click
// reuses the parameters, "Show" brings the result back on the stage.
import { t, tOr } from "./i18n.js";
import { imageUrl } from "./api.js";

// What "Retry" is offered for: a task that did not complete.
const RETRYABLE = new Set(["failed", "interrupted", "cancelled"]);

export class HistoryView {
  /** onRefresh(): read the tasks again (they come back through update). */
  constructor({ onReuse, onShow, onRetry, onRefresh }, doc = document) {
    this.list = doc.getElementById("history-list");
    this.empty = doc.getElementById("history-empty");
    this.onReuse = onReuse;
    this.onShow = onShow;
    this.onRetry = onRetry;
    this.tasks = [];
    doc.getElementById("history-refresh").addEventListener("click", () => onRefresh());
  }

  /** The caller's newest tasks, newest first (the UI state's, see state.js). */
  update(tasks) {
    this.tasks = tasks;
    this.render();
  }

  render() {
    this.list.replaceChildren(...this.tasks.map((task) => this.item(task)));
    this.empty.hidden = this.tasks.length > 0;
  }

  item(task) {
    const li = document.createElement("li");
    li.className = "history-item";
    li.dataset.taskId = task.id;
    li.dataset.state = task.state;
    const p = task.params;
    const info = task.info ?? {};

    const thumb = document.createElement("div");
    thumb.className = "history-thumb";
    if (task.images.length) {
      const img = document.createElement("img");
      img.className = "pixelated";
      img.src = imageUrl(task.images[0]);
      img.alt = "";
      img.loading = "lazy";
      thumb.append(img);
    } else {
      // No image (stopped, failed, still running): say so instead of an empty black square.
      thumb.classList.add("no-image");
      thumb.textContent = t("noImage");
    }

    const body = document.createElement("div");
    body.className = "history-body";
    const prompt = document.createElement("p");
    prompt.className = "history-prompt";
    prompt.textContent = p.prompt || t("noPrompt");
    const meta = document.createElement("p");
    meta.className = "history-meta";
    const width = p.width ?? info.width;
    const height = p.height ?? info.height;
    const parts = [
      t(`state_${task.state}`),
      task.type === "img2img" ? t("img2imgShort") : null,
      modelName(info.model ?? p.model),
      width && height ? `${width}×${height}` : null,
      `${t("steps")} ${p.steps ?? info.steps ?? t("auto")}`,
      `CFG ${p.cfg_scale ?? info.cfg_scale ?? t("auto")}`,
      `${t("seed")} ${p.seed}`,
      p.batch_count === 0 ? t("foreverShort") : null,
      p.batch_count > 1 || p.batch_size > 1 ? `${p.batch_count}×${p.batch_size}` : null,
    ].filter(Boolean);
    meta.textContent = parts.join(" · ");
    if (p.negative_prompt) meta.title = p.negative_prompt;
    body.append(prompt, meta);

    const actions = document.createElement("div");
    actions.className = "history-actions";
    const label = (p.prompt || t("noPrompt")).slice(0, 60);
    const reuse = button(t("reuse"), t("reuseLabel", { prompt: label }), () => this.onReuse(task));
    reuse.classList.add("history-reuse");
    const show = button(t("show"), t("showLabel", { prompt: label }), () => this.onShow(task));
    show.classList.add("history-show");
    actions.append(reuse, show);
    if (RETRYABLE.has(task.state)) {
      const retry = button(t("retry"), t("retryLabel", { prompt: label }), () => this.onRetry(task));
      retry.classList.add("history-retry");
      actions.append(retry);
    }

    li.append(thumb, body, actions);
    return li;
  }

  refresh() {
    this.render();
  }
}

/** A preset's title in the UI's language; any other model (a directory, a repo id) as it is. */
function modelName(name) {
  return name ? tOr(`modelTitle_${name}`, name) : null;
}

function button(text, label, onClick) {
  const el = document.createElement("button");
  el.type = "button";
  el.className = "btn btn-small";
  el.textContent = text;
  el.setAttribute("aria-label", label);
  el.addEventListener("click", onClick);
  return el;
}
