// The controller: one attached task at a time, its events driving every view.
import { ApiError, api } from "./api.js";
import { SubmitState } from "./controls.js";
import { TERMINAL, TaskStream } from "./events.js";
import { t } from "./i18n.js";
import { storage } from "./storage.js";

const ACTIVE = "activeTask"; // {id, seq}: the task to re-attach to after a reload
const LAST = "lastTask"; // id of the newest task this browser started or restored
const LAST_SEED = "lastSeed";

export class App {
  constructor({ form, submit, progress, stage, gallery, stats, history, wakeLock, notices }) {
    Object.assign(this, { form, submit, progress, stage, gallery, stats, history, wakeLock, notices });
    this.task = null; // the attached task: a TaskOut kept up to date from its events
    this.stream = null;
    this.submitting = false;
    this.skipJob = null; // job_no when Skip was pressed; Skip is enabled again when the job changes
  }

  get active() {
    return Boolean(this.task && !TERMINAL.has(this.task.state));
  }

  // --- user actions -------------------------------------------------------------------------
  async generate() {
    if (this.submitting) return;
    this.submitting = true; // a second Ctrl+Enter while the request is on its way does nothing
    this.notices.clear();
    try {
      if (this.active) {
        // Ctrl+Enter while a task runs: stop it (it ends within milliseconds), then queue the new one.
        const previous = this.task.id;
        this.detach();
        await api.interrupt(previous).catch(() => null);
      }
      const task = await api.submit(this.form.params());
      this.attach(task);
    } catch (error) {
      this.notices.error(describeError(error, "errorSubmit"));
    } finally {
      this.submitting = false;
    }
  }

  /** Returns whether there was anything to interrupt (so that Esc is only consumed then). */
  interrupt(keepPartial = false) {
    if (!this.active || this.submit.state === SubmitState.INTERRUPTING) return false;
    const id = this.task.id;
    this.submit.set(SubmitState.INTERRUPTING);
    api.interrupt(id, keepPartial).then(
      (task) => {
        if (this.task?.id === id && TERMINAL.has(task.state)) this.finish(task);
      },
      (error) => this.controlFailed(id, error),
    );
    return true;
  }

  skip() {
    if (!this.active || this.task.state !== "running" || this.submit.skipping) return false;
    const id = this.task.id;
    this.skipJob = this.task.progress.job_no;
    this.submit.setSkipping(true);
    api.skip(id).catch((error) => this.controlFailed(id, error));
    return true;
  }

  /** The "Restore progress" control: the remembered task, else the caller's newest unfinished one. */
  async restore({ automatic = false } = {}) {
    const remembered = storage.get(ACTIVE)?.id ?? storage.get(LAST);
    this.notices.clear();
    try {
      let task;
      if (remembered) {
        task = await api.task(remembered);
      } else {
        const page = await api.tasks({ limit: 1, states: ["running", "queued"] });
        task = page.tasks[0];
        if (!task) {
          if (!automatic) this.notices.info(t("errorNothingToRestore"));
          return;
        }
      }
      const seq = storage.get(ACTIVE)?.id === task.id ? storage.get(ACTIVE).seq ?? 0 : 0;
      this.attach(task, { after: seq });
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        storage.remove(ACTIVE);
        storage.remove(LAST);
        this.submit.setCanRestore(false);
        this.notices.error(t("errorTaskGone"));
      } else {
        this.notices.error(describeError(error, "errorNetwork"));
      }
    }
  }

  reuse(task) {
    this.form.apply(task.params);
    this.notices.info(t("reusedParams"));
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
    this.skipJob = task.stop_requested === "skip" ? task.progress.job_no : null;
    storage.set(LAST, task.id);
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
    storage.set(ACTIVE, { id: task.id, seq: after });
    const last = task.images.at(-1);
    if (last) this.stage.result(last);
    if (task.state === "running") {
      this.stage.latestPreview();
      this.wakeLock.acquire();
    }
    this.renderTask();
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
    this.wakeLock.release();
  }

  onEvent(event) {
    const task = this.task;
    if (!task || event.task_id !== task.id) return;
    const data = event.data ?? {};
    storage.set(ACTIVE, { id: task.id, seq: event.seq });
    switch (event.type) {
      case "queued":
        task.state = "queued";
        task.position = data.position;
        task.queue_size = data.size;
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
        if (this.skipJob !== null && data.job_no !== this.skipJob) this.skipJob = null;
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
    this.renderTask();
  }

  /** The terminal event carries the finished task: nothing to fetch. */
  onTerminal(event) {
    const final = event.data?.task ?? { ...this.task, state: event.type };
    if (this.task?.id === final.id) this.finish(final);
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
      this.submit.set(SubmitState.IDLE);
      this.progress.render(null);
      this.notices.error(error instanceof ApiError && error.status === 404 ? t("errorTaskGone") : describeError(error, "errorNetwork"));
    }
  }

  controlFailed(id, error) {
    if (this.task?.id !== id) return;
    if (error instanceof ApiError && error.status === 404) {
      this.onLost(id);
      return;
    }
    this.notices.error(describeError(error, "errorControl"));
    this.renderTask();
  }

  finish(task) {
    this.stream?.close();
    this.stream = null;
    this.task = structuredClone(task);
    this.wakeLock.release();
    storage.remove(ACTIVE);
    for (const image of task.images) this.gallery.add(image);
    this.gallery.setSheet(task.sheet_url);
    this.stage.finish(task.images.at(-1));
    this.progress.render({ state: task.state, progress: task.progress });
    this.submit.set(SubmitState.IDLE);
    this.submit.setCanRestore(true);
    this.stats.render({ state: task.state, stats: task.stats });
    document.body.dataset.lastState = task.state;
    if (task.state === "failed") this.notices.error(t("errorFailed", { detail: task.error ?? "" }));
    this.notices.announce(t("announceEnded", { state: t(`state_${task.state}`) }));
    this.history.load();
  }

  renderTask() {
    const task = this.task;
    if (!task) return;
    this.progress.render({ state: task.state, progress: task.progress, position: task.position, size: task.queue_size });
    if (this.submit.state === SubmitState.INTERRUPTING) {
      this.submit.setSkipping(true);
      return;
    }
    let state = task.state === "queued" ? SubmitState.QUEUED : SubmitState.RUNNING;
    if (task.stop_requested === "interrupt") state = SubmitState.INTERRUPTING;
    this.submit.set(state, { skipping: this.skipJob !== null });
  }
}

function describeError(error, key) {
  if (error instanceof ApiError) {
    let text = t(key === "errorNetwork" ? "errorControl" : key, { detail: error.detail });
    if (error.status === 429 && error.retryAfter) text += ` ${t("errorRetry", { seconds: error.retryAfter })}`;
    return text;
  }
  return t("errorNetwork", { detail: error?.message ?? String(error) });
}
