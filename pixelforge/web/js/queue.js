// "My queue": the caller's queued tasks in queue order, each with when it likely starts, Up / Down / Run next
// (moves among the caller's own queued tasks) and its own Cancel, and "Cancel my queue" for all of them (the
// running task goes on).
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

  async act(request, keepFocus = null) {
    try {
      await request();
    } catch (error) {
      this.onError(error);
    }
    await this.onChange();
    if (keepFocus) this.refocus(keepFocus);
  }

  /** After a move the list is drawn anew: the keyboard stays on the moved task (on the same button, or its Cancel
   * once that button has nothing more to do). */
  refocus({ taskId, className }) {
    const item = [...this.list.children].find((li) => li.dataset.taskId === taskId);
    if (!item) return;
    const same = item.querySelector(`.${className}`);
    (same && !same.disabled ? same : item.querySelector(".queue-cancel")).focus();
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
    const index = this.tasks.indexOf(task);
    const last = this.tasks.length - 1;
    const moves = [
      ["front", "moveFront", "moveFrontLabel", index === 0],
      ["up", "moveUp", "moveUpLabel", index === 0],
      ["down", "moveDown", "moveDownLabel", index === last],
    ].map(([to, text, label, already]) =>
      this.button(`queue-move-${to}`, t(text), t(label, { prompt }), already, () => api.move(task.id, to),
        { taskId: task.id, className: `queue-move-${to}` }));
    const cancel = this.button("queue-cancel", t("cancel"), t("cancelLabel", { prompt }), false,
      () => api.cancel(task.id));
    li.append(text, ...moves, cancel);
    return li;
  }

  button(className, text, label, disabled, request, keepFocus = null) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = `btn btn-small ${className}`;
    button.textContent = text;
    button.setAttribute("aria-label", label);
    button.disabled = disabled; // already there: nothing to move (and out of the Tab order)
    button.addEventListener("click", () => this.act(request, keepFocus));
    return button;
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
