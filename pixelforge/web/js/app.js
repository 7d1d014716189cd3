// The controller: one attached task at a time, its events driving every view.
import { ApiError, api, fileUrl, imageUrl } from "./api.js";
import { SubmitState } from "./controls.js";
import { TaskStream } from "./events.js";
import { t, tOr } from "./i18n.js";
import { TERMINAL } from "./protocol.js";
import { storage } from "./storage.js";

const ACTIVE = "activeTask"; // {id, seq}: the task to re-attach to after a reload
const LAST_SEED = "lastSeed";
// A worker ends a task within milliseconds of an interrupt; this long after it without a single event from
// the task means the worker is dead or stuck, and the user is let go on (the task stays restorable). Any
// event re-arms the wait: a "Stop and keep" decode of a big model on a CPU may take a while.
const STOP_CONFIRM_MS = 15_000;

export class App {
  constructor({ form, input, submit, progress, stage, gallery, recent, stats, history, queue, wakeLock, notices,
    endNotice }) {
    Object.assign(this, { form, input, submit, progress, stage, gallery, recent, stats, history, queue, wakeLock,
      notices, endNotice });
    this.task = null; // the attached task: the server's TaskOut, kept up to date from its events
    this.stream = null;
    // The one request in flight ("submit", "interrupt", "after_job" or "skip"). The buttons are a function of the
    // server's task state plus this, so a failed request can never leave them stuck.
    this.pending = null;
    this.skipJob = null; // the job the server accepted a skip for; Skip comes back when the job changes
    this.restoreId = null; // an unfinished task of ours that is not attached ("Restore progress")
    this.stallTimer = null;
    this.skippedSeen = 0;
  }

  get active() {
    return Boolean(this.task && !TERMINAL.has(this.task.state));
  }

  /** An interrupt is on its way or the server has one pending: "Interrupting…". */
  get stopping() {
    return this.active && (this.pending === "interrupt" || stopOf(this.task) === "interrupt");
  }

  /** "Stop after this image" is on its way or the server holds it: "Stopping after this image…". */
  get stoppingAfter() {
    return this.active && (this.pending === "after_job" || stopOf(this.task) === "after_job");
  }

  get skipping() {
    return this.pending === "skip" || (this.skipJob !== null && this.skipJob === this.task?.progress.job_no);
  }

  // --- user actions -------------------------------------------------------------------------
  async generate() {
    if (this.pending === "submit") return; // a second Ctrl+Enter while the request is on its way does nothing
    this.notices.clear();
    this.form.clearInvalid();
    const previous = this.active ? this.task.id : null;
    this.pending = "submit";
    try {
      if (previous) {
        // Ctrl+Enter while a task runs: stop it (it ends within milliseconds), then queue the new one.
        this.detach();
        this.render();
        await api.interrupt(previous).catch(() => null);
      } else {
        this.render();
      }
      const task = await api.submit({ ...this.form.params(), ...this.input.params() });
      this.pending = null;
      this.attach(task);
    } catch (error) {
      this.pending = null;
      this.notices.error(this.form.showInvalid(error) ?? (() => describeError(error, "errorSubmit")));
      this.render();
      this.refreshRestore(); // a previous task that could not be stopped is still there to re-attach
    }
  }

  /** Returns whether there was anything to interrupt (so that Esc is only consumed then). */
  interrupt(keepPartial = false) {
    if (!this.active || this.stopping) return false;
    return this.sendStop("interrupt", keepPartial, "now");
  }

  /** "Stop after this image": the running image is finished and kept, then the task ends. */
  stopAfterImage() {
    if (!this.active || this.task.state !== "running" || this.stopping || this.stoppingAfter) return false;
    return this.sendStop("after_job", false, "after_job");
  }

  /** Asks the server to stop the running task ``when`` ("now" or "after_job") and shows its answer: the task's
   * end, or the stop it now waits for (a stop now is watched until the task ends). */
  sendStop(pending, keepPartial, when) {
    const id = this.task.id;
    this.pending = pending;
    this.render();
    api.interrupt(id, keepPartial, when).then(
      (task) => {
        if (this.task?.id !== id || !this.active) return;
        this.pending = null;
        if (TERMINAL.has(task.state)) {
          this.finish(task);
          return;
        }
        this.task.stop_requested = task.stop_requested;
        if (when === "now") this.watchStop();
        this.render();
      },
      (error) => this.controlFailed(id, error),
    );
    return true;
  }

  /** "Retry" in the history: the same parameters again as a new task, attached here. */
  async retry(task) {
    this.notices.clear();
    try {
      this.attach(await api.retry(task.id));
    } catch (error) {
      this.notices.error(describeError(error, "errorSubmit"));
    }
    this.history.load();
  }

  skip() {
    if (!this.active || this.task.state !== "running" || this.stopping || this.skipping) return false;
    const id = this.task.id;
    const job = this.task.progress.job_no;
    this.pending = "skip";
    this.render();
    api.skip(id).then(
      (task) => {
        if (this.task?.id !== id || !this.active) return;
        this.pending = null;
        if (stopOf(task) === "skip") this.skipJob = job;
        this.render();
      },
      (error) => this.controlFailed(id, error),
    );
    return true;
  }

  /** The "Restore progress" control (or a reload): the remembered task, else our newest unfinished one. */
  async restore({ automatic = false } = {}) {
    const remembered = storage.get(ACTIVE);
    const id = automatic ? remembered?.id : this.restoreId ?? remembered?.id;
    this.notices.clear();
    if (!id) {
      this.refreshRestore();
      return;
    }
    try {
      const task = await api.task(id);
      this.attach(task, { after: remembered?.id === task.id ? remembered.seq ?? 0 : 0 });
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        storage.remove(ACTIVE);
        this.notices.error(t("errorTaskGone"));
      } else {
        this.notices.error(describeError(error, "errorNetwork"));
      }
      this.refreshRestore();
    }
  }

  /** Offer "Restore progress" only when one of our tasks is unfinished and not attached here. */
  async refreshRestore() {
    let id = null;
    if (!this.active) {
      try {
        id = (await api.tasks({ limit: 1, states: ["running", "queued"] })).tasks[0]?.id ?? null;
      } catch {
        id = null; // the server is away: there is nothing we could re-attach to anyway
      }
    }
    this.restoreId = this.active ? null : id;
    this.submit.setCanRestore(this.restoreId !== null);
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
    this.attach(task);
  }

  reuseSeed() {
    const seed = this.task?.params?.seed ?? storage.get(LAST_SEED);
    if (seed !== null && seed !== undefined) this.form.setField("seed", seed);
  }

  // --- attaching to a task ------------------------------------------------------------------
  attach(task, { after = 0 } = {}) {
    this.detach();
    this.task = structuredClone(task);
    this.skipJob = stopOf(task) === "skip" ? task.progress.job_no : null;
    this.skippedSeen = skippedJobs(task).length;
    storage.set(LAST_SEED, task.params.seed);
    document.body.dataset.taskId = task.id;
    this.stage.reset(task.id);
    this.gallery.reset(task.id);
    for (const image of task.images) this.gallery.add(image);
    this.gallery.setSheet(task.sheet_url);
    this.stats.render(null);
    if (TERMINAL.has(task.state)) {
      this.finish(task);
      return;
    }
    this.submit.setCanRestore(false);
    storage.set(ACTIVE, { id: task.id, seq: after });
    const last = task.images.at(-1);
    if (last) this.stage.result(last);
    if (task.state === "running") {
      this.stage.latestPreview();
      this.wakeLock.acquire();
    }
    if (stopOf(task) === "interrupt") this.watchStop();
    this.render();
    this.queue?.load();
    this.notices.announce(task.state === "queued" ? t("announceQueued") : t("announceStarted"));
    this.stream = new TaskStream(task.id, {
      after,
      onEvent: (event) => this.onEvent(event),
      onLost: () => this.onLost(task.id),
    });
  }

  detach() {
    this.stream?.close();
    this.stream = null;
    this.task = null;
    this.skipJob = null;
    clearTimeout(this.stallTimer);
    this.wakeLock.release();
  }

  onEvent(event) {
    const task = this.task;
    if (!task || event.task_id !== task.id) return;
    const data = event.data ?? {};
    storage.set(ACTIVE, { id: task.id, seq: event.seq });
    if (this.stopping && !this.pending) this.watchStop();
    switch (event.type) {
      case "queued":
        task.state = "queued";
        task.position = data.position;
        task.queue_size = data.size;
        if (data.requeued) task.attempt = data.attempt; // its worker was lost: the bar says so, and keeps its place
        task.starts_in_s = data.starts_in_s ?? null;
        break;
      case "started":
        task.state = "running";
        task.position = null;
        task.queue_size = null;
        this.wakeLock.acquire();
        this.notices.announce(t("announceStarted"));
        break;
      case "progress":
        task.state = "running";
        task.progress = data;
        if (this.skipJob !== null && data.job_no !== this.skipJob) {
          this.skipJob = null;
          task.stop_requested = stopOf(task) === "skip" ? null : task.stop_requested;
        }
        break;
      case "preview":
        this.stage.preview(data);
        return;
      case "image": {
        const image = data; // the server's ImageOut, URLs included
        task.images.push(image);
        this.gallery.add(image);
        this.stage.result(image);
        return;
      }
      default:
        if (TERMINAL.has(event.type)) {
          this.onTerminal(event);
          return;
        }
    }
    this.render();
  }

  /** The terminal event carries the finished task: nothing to fetch. */
  onTerminal(event) {
    const final = event.data?.task ?? { ...this.task, state: event.type };
    if (this.task?.id !== final.id) return;
    this.finish(final);
    this.endNotice?.taskEnded(final);
  }

  async onLost(id) {
    if (this.task?.id !== id) return;
    try {
      const task = await api.task(id);
      if (this.task?.id !== id) return;
      if (TERMINAL.has(task.state)) this.finish(task);
      else this.attach(task, { after: storage.get(ACTIVE)?.seq ?? 0 });
    } catch (error) {
      if (this.task?.id !== id) return;
      this.detach();
      this.pending = null;
      this.progress.render(null);
      this.render();
      this.notices.error(error instanceof ApiError && error.status === 404 ? t("errorTaskGone") : describeError(error, "errorNetwork"));
      this.refreshRestore();
    }
  }

  controlFailed(id, error) {
    if (this.task?.id !== id) return;
    this.pending = null; // the buttons fall back to the task's state as the server last reported it
    if (error instanceof ApiError && error.status === 404) {
      this.onLost(id);
      return;
    }
    this.notices.error(describeError(error, "errorControl"));
    this.render();
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
      this.detach();
      this.render();
      this.notices.error(t("errorStopStalled"));
      this.refreshRestore();
      this.history.load();
    } else {
      this.task.stop_requested = task.stop_requested;
      this.notices.error(t("errorStopLost"));
      this.render();
    }
  }

  finish(task) {
    this.stream?.close();
    this.stream = null;
    clearTimeout(this.stallTimer);
    this.pending = null;
    this.task = structuredClone(task);
    this.wakeLock.release();
    storage.remove(ACTIVE);
    for (const image of task.images) this.gallery.add(image);
    this.gallery.setSheet(task.sheet_url);
    this.gallery.setSkipped(skippedJobs(task), task.params);
    this.stage.finish(task.images.at(-1), task.state);
    this.progress.render({ state: task.state, progress: task.progress });
    this.render();
    this.stats.render({ state: task.state, stats: task.stats, skipped: skippedJobs(task).length });
    document.body.dataset.lastState = task.state;
    this.notices.clearInfo(); // "Job 1 of 2 skipped." was news while the task ran; the gallery marks the job
    if (task.state === "failed") {
      this.notices.error(() => t("errorFailed", { detail: byCode(task.error_code, task.error ?? "") }));
    }
    this.notices.announce(t("announceEnded", { state: t(`state_${task.state}`) }));
    this.refreshRestore();
    this.history.load();
    this.recent.load();
    this.queue?.load();
  }

  /** The submit area, the bar and the skipped jobs from the task's state and the request in flight. */
  render() {
    const task = this.task;
    if (!this.active) {
      this.submit.set(SubmitState.IDLE, { busy: this.pending === "submit" });
      return;
    }
    this.progress.render({ state: task.state, progress: task.progress, position: task.position, size: task.queue_size,
      attempt: task.attempt, startsIn: task.starts_in_s, stoppingAfter: this.stoppingAfter });
    let state = task.state === "queued" ? SubmitState.QUEUED : SubmitState.RUNNING;
    if (this.stopping) state = SubmitState.INTERRUPTING;
    this.submit.set(state, { skipping: this.skipping, stoppingAfter: this.stoppingAfter });
    const skipped = skippedJobs(task);
    this.gallery.setSkipped(skipped, task.params);
    if (skipped.length > this.skippedSeen) {
      const job = skipped.at(-1) + 1;
      this.notices.info(() => t("jobSkipped", { job, count: task.params.batch_count }));
    }
    this.skippedSeen = skipped.length;
  }
}

/** Jobs that ended without an image before the task's last job: skipped ones (0-based). */
export function skippedJobs(task) {
  const reached = task.state === "completed" ? task.params.batch_count : task.progress.job_no;
  const withImages = new Set(task.images.map((image) => image.job_no));
  const skipped = [];
  for (let job = 0; job < reached; job += 1) if (!withImages.has(job)) skipped.push(job);
  return skipped;
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

/** The stop the server holds for a task: "interrupt" (now), "after_job" (once the running job is done),
 * "skip", or null. */
export function stopOf(task) {
  const stop = task?.stop_requested;
  if (!stop) return null;
  return stop.kind === "interrupt" && stop.when === "after_job" ? "after_job" : stop.kind;
}
