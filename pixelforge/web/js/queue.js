// "My queue": the caller's queued tasks in queue order, each with when it likely starts and its own Cancel, and
// "Cancel my queue" for all of them (the running task goes on).
import { t } from "./i18n.js";
import { api } from "./api.js";
import { formatEta } from "./format.js";

export class QueueView {
  /** onChange(): after a cancel, read the tasks again (they come back through update); onError(error). */
  constructor({ onChange, onError }, doc = document) {
    this.list = doc.getElementById("queue-list");
    this.empty = doc.getElementById("queue-empty");
    this.cancelAll = doc.getElementById("queue-cancel-all");
    this.onChange = onChange;
    this.onError = onError;
    this.tasks = [];
    this.cancelAll.addEventListener("click", () => this.act(() => api.cancelQueue()));
  }

  /** The caller's queued tasks in queue order (the UI state's, see queuedTasks in state.js). */
  update(tasks) {
    this.tasks = tasks;
    this.render();
  }

  async act(request) {
    try {
      await request();
    } catch (error) {
      this.onError(error);
    }
    await this.onChange();
  }

  render() {
    this.list.replaceChildren(...this.tasks.map((task) => this.item(task)));
    this.empty.hidden = this.tasks.length > 0;
    this.cancelAll.hidden = this.tasks.length === 0;
  }

  item(task) {
    const li = document.createElement("li");
    li.className = "queue-item";
    li.dataset.taskId = task.id;
    const text = document.createElement("span");
    const prompt = (task.params.prompt || t("noPrompt")).slice(0, 60);
    const when = task.starts_in_s != null ? ` · ${startsIn(task.starts_in_s)}` : "";
    text.textContent = `${task.position ?? "?"}. ${prompt}${when}`;
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "btn btn-small queue-cancel";
    cancel.textContent = t("cancel");
    cancel.setAttribute("aria-label", t("cancelLabel", { prompt }));
    cancel.addEventListener("click", () => this.act(() => api.cancel(task.id)));
    li.append(text, cancel);
    return li;
  }

  refresh() {
    this.render();
  }
}

/** "starts in ~1 min" (minutes from a minute and a half, else seconds). */
export function startsIn(seconds) {
  if (seconds >= 90) return t("startsInMin", { minutes: Math.round(seconds / 60) });
  return t("startsIn", { time: formatEta(seconds) });
}
