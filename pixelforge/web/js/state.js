// The web UI's state: one object, changed only by reduce(state, action) — pure: no DOM, no fetch, no storage, no
// timers — from the attached task's server events and the page's own actions. The controller (app.js) dispatches
// the actions and does the effects (requests, the event stream, storage); the views render from the state through
// the selectors below.
import { SubmitState } from "./controls.js";
import { TERMINAL } from "./protocol.js";

const UNFINISHED = new Set(["queued", "running"]);

export const initialState = Object.freeze({
  task: null, // the attached task: the server's TaskOut, kept up to date from its events; null once let go
  attachNo: 0, // counts attaches: a view starts over when it changes (re-attaching to the same task included)
  seq: 0, // the attached task's last event applied: a reload re-attaches from here
  // The one request in flight ("submit", "interrupt", "after_job" or "skip"). The buttons are a function of the
  // server's task state plus this, so a failed request can never leave them stuck.
  pending: null,
  skipJob: null, // the job the server accepted a skip for; Skip comes back when the job changes
  preview: null, // the newest live preview of the attached task: a preview event's data, or {id: 0} = "the latest"
  // What the progress bar shows: the attached task, or the last one until another is attached (null: nothing).
  bar: null,
  tasks: [], // the caller's newest tasks, newest first: the history, the recent images and the queue
  restoreId: null, // an unfinished task of ours that is not attached ("Restore progress")
});

/**
 * The next state. An action is a TaskEvent from the server ({task_id, seq, type, data}) of the attached task, or
 * one of the page's own:
 *   submit, submit_failed, submitted {task}: Generate's request (a running task is let go: it is being stopped);
 *   attach {task, after}: a task shown here (a reload's, "Show", Retry's), its events read from seq ``after``;
 *   detach: the attached task is let go (it stays restorable); lost: its stream and the server lost it;
 *   stop_requested {when: "interrupt"|"after_job"}, skip_requested: a control's request is on its way;
 *   stop_answered {task}, skip_answered {task, job}: the server's answer (a TaskOut) for the task then attached;
 *   control_failed {id}: a control's request failed; stop_state {task}: the stop the server holds, read again;
 *   finished {task}: the task's end, read from the server rather than told by its stream;
 *   tasks_loaded {tasks}, tasks_failed: the read of the caller's newest tasks.
 */
export function reduce(state, action) {
  return withBar(state, next(state, action), action);
}

function next(state, action) {
  switch (action.type) {
    case "submit":
      return { ...(isActive(state) ? letGo(state) : state), pending: "submit" };
    case "submit_failed":
      return { ...state, pending: null };
    case "submitted":
      return attach({ ...state, pending: null }, action.task, 0);
    case "attach":
      return attach(state, action.task, action.after ?? 0);
    case "detach":
      return letGo(state);
    case "lost":
      return { ...letGo(state), pending: null };
    case "stop_requested":
      return { ...state, pending: action.when };
    case "skip_requested":
      return { ...state, pending: "skip" };
    case "stop_answered":
      if (!answersAttached(state, action.task)) return state;
      if (TERMINAL.has(action.task.state)) return finish(state, action.task);
      return { ...state, pending: null, task: { ...state.task, stop_requested: action.task.stop_requested } };
    case "skip_answered":
      if (!answersAttached(state, action.task)) return state;
      return { ...state, pending: null, skipJob: stopOf(action.task) === "skip" ? action.job : state.skipJob };
    case "control_failed":
      // The buttons fall back to the task's state as the server last reported it.
      return state.task?.id === action.id ? { ...state, pending: null } : state;
    case "stop_state":
      if (state.task?.id !== action.task.id) return state;
      return { ...state, task: { ...state.task, stop_requested: action.task.stop_requested } };
    case "finished":
      return state.task?.id === action.task.id ? finish(state, action.task) : state;
    case "tasks_loaded":
      return { ...state, tasks: action.tasks, restoreId: isActive(state) ? null : newestUnfinished(action.tasks) };
    case "tasks_failed":
      return { ...state, restoreId: null }; // the server is away: there is nothing we could re-attach to anyway
    default:
      return taskEvent(state, action);
  }
}

function attach(state, task, after) {
  const attached = {
    ...state,
    task: structuredClone(task),
    attachNo: state.attachNo + 1,
    seq: after,
    skipJob: stopOf(task) === "skip" ? task.progress.job_no : null,
    preview: task.state === "running" ? { id: 0 } : null, // whatever preview the server has now
  };
  if (TERMINAL.has(task.state)) return finish(attached, task);
  return { ...attached, restoreId: null };
}

function letGo(state) {
  return { ...state, task: null, skipJob: null, preview: null };
}

function finish(state, task) {
  return { ...state, task: structuredClone(task), pending: null, skipJob: null };
}

/** A control's answer counts only while the task it was for is attached and has not ended. */
function answersAttached(state, task) {
  return state.task?.id === task.id && isActive(state);
}

function taskEvent(state, event) {
  const task = state.task;
  if (!task || event.task_id !== task.id || TERMINAL.has(task.state)) return state;
  const data = event.data ?? {};
  const seen = { ...state, seq: event.seq };
  switch (event.type) {
    case "queued":
      return {
        ...seen,
        task: {
          ...task, state: "queued", position: data.position, queue_size: data.size, starts_in_s: data.starts_in_s ?? null,
          // Its worker was lost: the bar says which attempt this is, and the task keeps its place.
          ...(data.requeued ? { attempt: data.attempt } : {}),
        },
      };
    case "started":
      return { ...seen, task: { ...task, state: "running", position: null, queue_size: null } };
    case "progress": {
      const jobChanged = state.skipJob !== null && data.job_no !== state.skipJob;
      const stop = jobChanged && stopOf(task) === "skip" ? null : task.stop_requested;
      return {
        ...seen,
        skipJob: jobChanged ? null : state.skipJob,
        task: { ...task, state: "running", progress: data, stop_requested: stop },
      };
    }
    case "preview":
      return { ...seen, preview: data };
    case "image":
      return { ...seen, task: { ...task, images: [...task.images, data] } };
    default: {
      if (!TERMINAL.has(event.type)) return state;
      // The terminal event carries the finished task: nothing to fetch.
      const final = event.data?.task ?? { ...task, state: event.type };
      return final.id === task.id ? finish(seen, final) : state;
    }
  }
}

/** The bar follows the attached task; a task let go stays on it until another is attached, a lost one goes. */
function withBar(before, after, action) {
  if (after === before) return after;
  if (action.type === "lost") return { ...after, bar: null };
  const task = after.task;
  if (!task) return after;
  if (TERMINAL.has(task.state)) return { ...after, bar: { state: task.state, progress: task.progress } };
  return {
    ...after,
    bar: {
      state: task.state, progress: task.progress, position: task.position, size: task.queue_size,
      attempt: task.attempt, startsIn: task.starts_in_s, stoppingAfter: isStoppingAfter(after),
    },
  };
}

// --- selectors: what the views show --------------------------------------------------------------------------

export function isActive(state) {
  return Boolean(state.task && !TERMINAL.has(state.task.state));
}

/** An interrupt is on its way or the server has one pending: "Interrupting…". */
export function isStopping(state) {
  return isActive(state) && (state.pending === "interrupt" || stopOf(state.task) === "interrupt");
}

/** "Stop after this image" is on its way or the server holds it: "Stopping after this image…". */
export function isStoppingAfter(state) {
  return isActive(state) && (state.pending === "after_job" || stopOf(state.task) === "after_job");
}

export function isSkipping(state) {
  return state.pending === "skip" || (state.skipJob !== null && state.skipJob === state.task?.progress.job_no);
}

/** The submit area: which buttons, and the flags that change them. */
export function submitView(state) {
  const canRestore = state.restoreId !== null;
  if (!isActive(state)) return { state: SubmitState.IDLE, busy: state.pending === "submit", canRestore };
  let submit = state.task.state === "queued" ? SubmitState.QUEUED : SubmitState.RUNNING;
  if (isStopping(state)) submit = SubmitState.INTERRUPTING;
  return { state: submit, skipping: isSkipping(state), stoppingAfter: isStoppingAfter(state), busy: false, canRestore };
}

/** The run's summary under the stage once the task has ended, else null. */
export function statsView(state) {
  const task = state.task;
  if (!task || !TERMINAL.has(task.state)) return null;
  return { state: task.state, stats: task.stats, skipped: skippedJobs(task).length };
}

/** The caller's queued tasks in queue order. */
export function queuedTasks(state) {
  return state.tasks.filter((task) => task.state === "queued").sort((a, b) => (a.position ?? 0) - (b.position ?? 0));
}

/** Jobs that ended without an image before the task's last job: skipped ones (0-based). */
export function skippedJobs(task) {
  const reached = task.state === "completed" ? task.params.batch_count : task.progress.job_no;
  const withImages = new Set(task.images.map((image) => image.job_no));
  const skipped = [];
  for (let job = 0; job < reached; job += 1) if (!withImages.has(job)) skipped.push(job);
  return skipped;
}

/** The stop the server holds for a task: "interrupt" (now), "after_job" (once the running job is done),
 * "skip", or null. */
export function stopOf(task) {
  const stop = task?.stop_requested;
  if (!stop) return null;
  return stop.kind === "interrupt" && stop.when === "after_job" ? "after_job" : stop.kind;
}

function newestUnfinished(tasks) {
  return tasks.find((task) => UNFINISHED.has(task.state))?.id ?? null;
}
