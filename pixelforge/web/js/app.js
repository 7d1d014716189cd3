// The controller: one attached task at a time. Its events and the user's actions go through reduce (state.js) into
// the one state object, which every view renders from; here are the effects: requests, the event stream, storage.
import { ApiError, api, fileUrl, imageUrl } from "./api.js";
import { TaskStream } from "./events.js";
import { t, tOr } from "./i18n.js";
import { TERMINAL } from "./protocol.js";
import {
  initialState, isActive, isSkipping, isStopping, isStoppingAfter, queuedTasks, reduce, skippedJobs, statsView, stopOf,
  submitView,
} from "./state.js";
import { storage } from "./storage.js";

const ACTIVE = "activeTask"; // {id, seq}: the task to re-attach to after a reload
const LAST_SEED = "lastSeed";
// A worker ends a task within milliseconds of an interrupt; this long after it without a single event from
// the task means the worker is dead or stuck, and the user is let go on (the task stays restorable). Any
// event re-arms the wait: a "Stop and keep" decode of a big model on a CPU may take a while.
const STOP_CONFIRM_MS = 15_000;
// The caller's newest tasks read after a change (one read feeds the history, the recent images, the queue and
// "Restore progress"). They hold every unfinished task of the caller: an identity has at most a few (8 by default,
// max_active_per_identity) and they are the newest in queue order, unless over 22 newer ones ended while they waited.
const TASKS_READ = 30;

export class App {
  constructor({ form, input, submit, progress, stage, gallery, recent, stats, history, queue, wakeLock, notices,
    endNotice }) {
    Object.assign(this, { form, input, submit, progress, stage, gallery, recent, stats, history, queue, wakeLock,
      notices, endNotice });
    this.state = initialState; // everything the views show (see state.js); changed only by dispatch
    this.stream = null;
    this.stallTimer = null;
  }

  /** The attached task (the server's TaskOut, kept up to date from its events), or null. */
  get task() {
    return this.state.task;
  }

  get active() {
    return isActive(this.state);
  }

  /** Applies an action to the state and renders the views from it; returns the state before. */
  dispatch(action) {
    const before = this.state;
    this.state = reduce(before, action);
    this.render(before);
    return before;
  }

  // --- user actions -------------------------------------------------------------------------
  async generate() {
    if (this.state.pending === "submit") return; // a second Ctrl+Enter while the request is on its way does nothing
    this.notices.clear();
    this.form.clearInvalid();
    const previous = this.active ? this.task.id : null;
    if (previous) this.unfollow();
    this.dispatch({ type: "submit" });
    try {
      // Ctrl+Enter while a task runs: stop it (it ends within milliseconds), then queue the new one.
      if (previous) await api.interrupt(previous).catch(() => null);
      const task = await api.submit({ ...this.form.params(), ...this.input.params() });
      this.attach({ type: "submitted", task });
    } catch (error) {
      this.dispatch({ type: "submit_failed" });
      this.notices.error(this.form.showInvalid(error) ?? (() => describeError(error, "errorSubmit")));
      this.loadTasks(); // a previous task that could not be stopped is still there to re-attach
    }
  }

  /** Returns whether there was anything to interrupt (so that Esc is only consumed then). */
  interrupt(keepPartial = false) {
    if (!this.active || isStopping(this.state)) return false;
    return this.sendStop("interrupt", keepPartial, "now");
  }

  /** "Stop after this image": the running image is finished and kept, then the task ends. */
  stopAfterImage() {
    if (!this.active || this.task.state !== "running" || isStopping(this.state) || isStoppingAfter(this.state)) {
      return false;
    }
    return this.sendStop("after_job", false, "after_job");
  }

  /** Asks the server to stop the running task ``when`` ("now" or "after_job") and shows its answer: the task's
   * end, or the stop it now waits for (a stop now is watched until the task ends). */
  sendStop(pending, keepPartial, when) {
    const id = this.task.id;
    this.dispatch({ type: "stop_requested", when: pending });
    api.interrupt(id, keepPartial, when).then(
      (task) => {
        if (this.dispatch({ type: "stop_answered", task }) === this.state) return; // for a task no longer here
        if (!this.active) this.ended();
        else if (when === "now") this.watchStop();
      },
      (error) => this.controlFailed(id, error),
    );
    return true;
  }

  /** "Retry" in the history: the same parameters again as a new task, attached here. */
  async retry(task) {
    this.notices.clear();
    try {
      this.attach({ type: "attach", task: await api.retry(task.id) });
    } catch (error) {
      this.notices.error(describeError(error, "errorSubmit"));
      this.loadTasks();
    }
  }

  skip() {
    if (!this.active || this.task.state !== "running" || isStopping(this.state) || isSkipping(this.state)) return false;
    const id = this.task.id;
    const job = this.task.progress.job_no;
    this.dispatch({ type: "skip_requested" });
    api.skip(id).then(
      (task) => this.dispatch({ type: "skip_answered", task, job }),
      (error) => this.controlFailed(id, error),
    );
    return true;
  }

  /** The "Restore progress" control (or a reload): the remembered task, else our newest unfinished one. */
  async restore({ automatic = false } = {}) {
    const remembered = storage.get(ACTIVE);
    const id = automatic ? remembered?.id : this.state.restoreId ?? remembered?.id;
    this.notices.clear();
    if (!id) {
      this.loadTasks();
      return;
    }
    try {
      const task = await api.task(id);
      this.attach({ type: "attach", task, after: remembered?.id === task.id ? remembered.seq ?? 0 : 0 });
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        storage.remove(ACTIVE);
        this.notices.error(t("errorTaskGone"));
      } else {
        this.notices.error(describeError(error, "errorNetwork"));
      }
      this.loadTasks();
    }
  }

  /** The caller's newest tasks, read once for the history, the recent images, the queue and "Restore progress". */
  async loadTasks() {
    let page;
    try {
      page = await api.tasks({ limit: TASKS_READ });
    } catch {
      this.dispatch({ type: "tasks_failed" }); // the lists are a convenience; the server being away is said elsewhere
      return;
    }
    this.dispatch({ type: "tasks_loaded", tasks: page.tasks });
  }

  /** The task's parameters into the form; an img2img task's init image and mask come back too. */
  async reuse(task) {
    this.form.apply(task.params);
    this.input.apply(task.params.img2img);
    this.notices.info(() => t("reusedParams"));
    if (!task.inputs) {
      this.input.clear(); // a txt2img task: the form becomes exactly its parameters
      return;
    }
    const { init_image_url: image, mask_url: mask } = task.inputs;
    try {
      await this.input.loadUrl(fileUrl(image), `${task.id}-input.png`.replace(/[^A-Za-z0-9_.-]+/g, "_"),
        mask ? fileUrl(mask) : null);
    } catch (error) {
      this.notices.error(t("errorInputLoad", { detail: error?.message ?? String(error) }));
    }
  }

  /** "Use as input" on a gallery or recent image: it becomes the init image of the next task. */
  async useAsInput(image, taskId) {
    this.notices.clear();
    const name = `${taskId ?? "image"}-${image.index}.png`.replace(/[^A-Za-z0-9_.-]+/g, "_");
    try {
      await this.input.loadUrl(imageUrl(image), name);
    } catch (error) {
      this.notices.error(t("errorInputLoad", { detail: error?.message ?? String(error) }));
      return;
    }
    this.notices.info(() => t("inputLoaded"));
  }

  show(task) {
    if (this.task?.id === task.id) return;
    this.notices.clear();
    this.attach({ type: "attach", task });
  }

  reuseSeed() {
    const seed = this.task?.params?.seed ?? storage.get(LAST_SEED);
    if (seed !== null && seed !== undefined) this.form.setField("seed", seed);
  }

  // --- following the attached task ----------------------------------------------------------
  /** Attaches a task ("attach" or "submitted" action) and follows its events; a finished one is only shown. */
  attach(action) {
    this.unfollow();
    this.dispatch(action);
    const task = this.task;
    storage.set(LAST_SEED, task.params.seed);
    if (!this.active) {
      this.ended();
      return;
    }
    storage.set(ACTIVE, { id: task.id, seq: this.state.seq });
    if (task.state === "running") this.wakeLock.acquire();
    if (stopOf(task) === "interrupt") this.watchStop();
    this.loadTasks();
    this.notices.announce(task.state === "queued" ? t("announceQueued") : t("announceStarted"));
    this.stream = new TaskStream(task.id, {
      after: this.state.seq,
      onEvent: (event) => this.onEvent(event),
      onLost: () => this.onLost(task.id),
    });
  }

  /** Stops following the attached task's events (the state lets it go, or it ended). */
  unfollow() {
    this.stream?.close();
    this.stream = null;
    clearTimeout(this.stallTimer);
    this.wakeLock.release();
  }

  onEvent(event) {
    if (!this.task || event.task_id !== this.task.id) return;
    const before = this.dispatch(event);
    if (this.active) storage.set(ACTIVE, { id: this.task.id, seq: this.state.seq });
    if (isStopping(before) && !before.pending) this.watchStop(); // any event re-arms the wait for the end
    if (event.type === "started") {
      this.wakeLock.acquire();
      this.notices.announce(t("announceStarted"));
    } else if (isActive(before) && !this.active) {
      this.ended();
      this.endNotice?.taskEnded(this.task);
    }
  }

  async onLost(id) {
    if (this.task?.id !== id) return;
    try {
      const task = await api.task(id);
      if (this.task?.id !== id) return;
      if (TERMINAL.has(task.state)) this.finish(task);
      else this.attach({ type: "attach", task, after: this.state.seq });
    } catch (error) {
      if (this.task?.id !== id) return;
      this.unfollow();
      this.dispatch({ type: "lost" });
      this.notices.error(error instanceof ApiError && error.status === 404 ? t("errorTaskGone") : describeError(error, "errorNetwork"));
      this.loadTasks();
    }
  }

  controlFailed(id, error) {
    if (this.task?.id !== id) return;
    this.dispatch({ type: "control_failed", id });
    if (error instanceof ApiError && error.status === 404) {
      this.onLost(id);
      return;
    }
    this.notices.error(describeError(error, "errorControl"));
  }

  /** The server accepted an interrupt: its worker ends the task within milliseconds, or something is wrong. */
  watchStop() {
    clearTimeout(this.stallTimer);
    this.stallTimer = setTimeout(() => this.checkStalled(), STOP_CONFIRM_MS);
  }

  /** No terminal event long after the server took the interrupt: ask the server where the task is. */
  async checkStalled() {
    const id = this.task?.id;
    if (!id || !this.active) return;
    let task;
    try {
      task = await api.task(id);
    } catch (error) {
      if (this.task?.id === id) this.notices.error(describeError(error, "errorNetwork"));
      return;
    }
    if (this.task?.id !== id) return;
    if (TERMINAL.has(task.state)) {
      this.finish(task);
    } else if (stopOf(task) === "interrupt") {
      // The stop is recorded but no worker acts on it (the worker is dead or stuck): let the user go on.
      this.unfollow();
      this.dispatch({ type: "detach" });
      this.notices.error(t("errorStopStalled"));
      this.loadTasks();
    } else {
      this.dispatch({ type: "stop_state", task });
      this.notices.error(t("errorStopLost"));
    }
  }

  /** The attached task's end, read from the server. */
  finish(task) {
    this.dispatch({ type: "finished", task });
    this.ended();
  }

  /** What a task's end does besides showing it: no more events, nothing to restore, one read of the lists. */
  ended() {
    this.unfollow();
    storage.remove(ACTIVE);
    const task = this.task;
    this.notices.clearInfo(); // "Job 1 of 2 skipped." was news while the task ran; the gallery marks the job
    if (task.state === "failed") {
      this.notices.error(() => t("errorFailed", { detail: byCode(task.error_code, task.error ?? "") }));
    }
    this.notices.announce(t("announceEnded", { state: t(`state_${task.state}`) }));
    this.loadTasks();
  }

  /** Every view from the state; ``before`` tells what changed (a view is drawn again only then). */
  render(before) {
    const state = this.state;
    const task = state.task;
    this.submit.update(submitView(state));
    if (state.bar !== before.bar) this.progress.render(state.bar);
    if (task) {
      document.body.dataset.taskId = task.id;
      this.stage.update(state);
      this.gallery.update(state);
    }
    if (task !== before.task && task) {
      this.stats.render(statsView(state));
      if (TERMINAL.has(task.state)) document.body.dataset.lastState = task.state;
    }
    if (state.tasks !== before.tasks) {
      this.history.update(state.tasks);
      this.recent.update(state.tasks);
      this.queue.update(queuedTasks(state));
    }
    if (this.active && state.attachNo === before.attachNo) {
      const skipped = skippedJobs(task);
      if (skipped.length > skippedJobs(before.task).length) {
        this.notices.info(() => t("jobSkipped", { job: skipped.at(-1) + 1, count: task.params.batch_count }));
      }
    }
  }
}

/** An error in the UI's language by its code (ERROR_CODES) where the locales have it, else the server's own text. */
function byCode(code, text) {
  return code ? tOr(`errorCode_${code}`, text) : text;
}

function describeError(error, key) {
  if (error instanceof ApiError) {
    let text = t(key === "errorNetwork" ? "errorControl" : key, { detail: byCode(error.code, error.detail) });
    if (error.status === 429 && error.retryAfter) text += ` ${t("errorRetry", { seconds: error.retryAfter })}`;
    return text;
  }
  return t("errorNetwork", { detail: error?.message ?? String(error) });
}
