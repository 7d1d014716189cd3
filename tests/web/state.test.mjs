// reduce(state, action) of the web UI (pixelforge/web/js/state.js), run by node's test runner: exact states after
// sequences of the task's server events and the page's own actions.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  initialState, isActive, isSkipping, isStopping, isStoppingAfter, queuedTasks, reduce, skippedJobs, statsView,
  submitView,
} from "../../pixelforge/web/js/state.js";

const ID = "txt2img-abc";

function progress(overrides = {}) {
  return {
    phase: "denoise", job_no: 0, job_count: 2, step: 0, steps: 4, progress: 0, eta_s: null, elapsed_s: 0,
    textinfo: "", ...overrides,
  };
}

function image(index, job_no = index) {
  return { index, job_no, seed: 7 + index, width: 32, height: 32, url: `/api/v1/tasks/${ID}/images/${index}` };
}

function task(overrides = {}) {
  return {
    id: ID, type: "txt2img", state: "queued", position: 1, queue_size: 1, starts_in_s: null,
    params: { prompt: "a knight", seed: 7, batch_count: 2, batch_size: 1 }, inputs: null, info: {},
    progress: progress({ phase: "queued", steps: 0 }), images: [], stats: null, error: null, stop_reason: null,
    stop_requested: null, retried_from: null, created_at: 1, started_at: null, finished_at: null,
    events_url: `/api/v1/tasks/${ID}/events`, sheet_url: null, ...overrides,
  };
}

const event = (seq, type, data = {}, taskId = ID) => ({ task_id: taskId, seq, type, time: seq, data });

/** Frozen all the way down: reduce changing its input (it must not) throws in a module (strict mode). */
function deepFreeze(value) {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

function run(actions, state = initialState) {
  return actions.reduce((current, action) => deepFreeze(reduce(deepFreeze(current), deepFreeze(action))), state);
}

test("a task from Generate to completed", () => {
  const submitting = reduce(initialState, { type: "submit" });
  assert.deepEqual(submitView(submitting), { state: "idle", busy: true, canRestore: false });

  const queued = reduce(submitting, { type: "submitted", task: task({ position: 2, queue_size: 2 }) });
  assert.equal(queued.pending, null);
  assert.equal(queued.attachNo, 1);
  assert.deepEqual(queued.bar, {
    state: "queued", progress: task().progress, position: 2, size: 2, attempt: undefined, startsIn: null,
    stoppingAfter: false,
  });
  assert.deepEqual(submitView(queued),
    { state: "queued", skipping: false, stoppingAfter: false, busy: false, canRestore: false });

  const moved = reduce(queued, event(1, "queued", { position: 1, size: 1, starts_in_s: 12 }));
  assert.deepEqual([moved.task.position, moved.task.queue_size, moved.task.starts_in_s, moved.seq], [1, 1, 12, 1]);
  assert.deepEqual([moved.bar.position, moved.bar.size, moved.bar.startsIn], [1, 1, 12]);

  const step = progress({ step: 2, progress: 0.25, eta_s: 3 });
  const running = run([event(2, "started"), event(3, "progress", step), event(4, "preview", { id: 1, url: "/p/1" })],
    moved);
  assert.equal(running.task.state, "running");
  assert.equal(running.task.position, null);
  assert.equal(running.task.queue_size, null);
  assert.deepEqual(running.task.progress, step);
  assert.deepEqual(running.preview, { id: 1, url: "/p/1" });
  assert.equal(running.seq, 4);
  assert.deepEqual(running.bar, {
    state: "running", progress: step, position: null, size: null, attempt: undefined, startsIn: 12,
    stoppingAfter: false,
  });
  assert.equal(submitView(running).state, "running");

  const imaged = run([event(5, "image", image(0)), event(6, "progress", progress({ job_no: 1, progress: 0.5 }))],
    running);
  assert.deepEqual(imaged.task.images, [image(0)]);

  const final = task({ state: "completed", position: null, queue_size: null, images: [image(0), image(1)],
    progress: progress({ phase: "done", job_no: 2, step: 4, progress: 1 }), stats: { total_s: 2 } });
  const done = reduce(imaged, event(8, "completed", { task: final }));
  assert.deepEqual(done, {
    ...imaged, task: final, seq: 8, bar: { state: "completed", progress: final.progress },
  });
  assert.equal(isActive(done), false);
  assert.deepEqual(submitView(done), { state: "idle", busy: false, canRestore: false });
  assert.deepEqual(statsView(done), { state: "completed", stats: { total_s: 2 }, skipped: 0 });
  assert.notEqual(done.task, final, "the state keeps its own copy of the server's task");
  // Nothing after the end changes the task.
  assert.equal(reduce(done, event(9, "progress", progress())), done);
});

test("a reload mid-task re-attaches from the stored sequence number and takes the newest preview", () => {
  const before = run([{ type: "submitted", task: task() }, event(1, "started"),
    event(2, "progress", progress({ step: 3 }))]);
  // The reload: a fresh page, the task read from the server, its events from seq 2 on.
  const loaded = task({ state: "running", position: null, queue_size: null, progress: progress({ step: 3 }),
    images: [] });
  const reloaded = reduce(initialState, { type: "attach", task: loaded, after: before.seq });
  assert.deepEqual(reloaded, {
    ...initialState, task: loaded, attachNo: 1, seq: 2, preview: { id: 0 },
    bar: { state: "running", progress: loaded.progress, position: null, size: null, attempt: undefined,
      startsIn: null, stoppingAfter: false },
  });
  const on = run([event(3, "progress", progress({ step: 4 })), event(4, "preview", { id: 2, url: "/p/2" })],
    reloaded);
  assert.equal(on.task.progress.step, 4);
  assert.deepEqual(on.preview, { id: 2, url: "/p/2" });
  assert.equal(on.seq, 4);
  // Events of another task (the one attached before) change nothing.
  assert.equal(reduce(on, event(5, "progress", progress({ step: 1 }), "txt2img-other")), on);
});

test("re-attaching to the same task starts its views over", () => {
  const first = reduce(initialState, { type: "attach", task: task() });
  const again = reduce(first, { type: "attach", task: task({ position: 3 }), after: 0 });
  assert.equal(again.attachNo, 2);
  assert.equal(again.task.position, 3);
});

test("stop requested, then interrupted", () => {
  const running = run([{ type: "submitted", task: task() }, event(1, "started"), event(2, "progress", progress())]);
  const requested = reduce(running, { type: "stop_requested", when: "interrupt" });
  assert.equal(requested.pending, "interrupt");
  assert.equal(isStopping(requested), true);
  assert.equal(submitView(requested).state, "interrupting");

  const held = { kind: "interrupt", when: "now", keep_partial: false };
  const answered = reduce(requested, { type: "stop_answered", task: task({ state: "running", stop_requested: held }) });
  assert.equal(answered.pending, null);
  assert.deepEqual(answered.task.stop_requested, held);
  assert.equal(submitView(answered).state, "interrupting", "the server holds the stop: still interrupting");

  const final = task({ state: "interrupted", stop_reason: "user", progress: progress({ step: 1 }) });
  const ended = reduce(answered, event(3, "interrupted", { task: final }));
  assert.deepEqual(ended, { ...answered, task: final, seq: 3, bar: { state: "interrupted", progress: final.progress } });
  assert.equal(isStopping(ended), false);
  // A late answer for the ended task is ignored.
  assert.equal(reduce(ended, { type: "stop_answered", task: task({ state: "running" }) }), ended);
});

test("a stop answered with the task's end finishes it; a terminal event without a task keeps the one known", () => {
  const running = run([{ type: "submitted", task: task() }, event(1, "started")]);
  const requested = reduce(running, { type: "stop_requested", when: "interrupt" });
  const final = task({ state: "cancelled" });
  assert.deepEqual(reduce(requested, { type: "stop_answered", task: final }).task, final);
  const bare = reduce(running, event(2, "failed"));
  assert.deepEqual(bare.task, { ...running.task, state: "failed" });
});

test("stop after this image", () => {
  const running = run([{ type: "submitted", task: task() }, event(1, "started"), event(2, "progress", progress())]);
  const requested = reduce(running, { type: "stop_requested", when: "after_job" });
  assert.equal(isStoppingAfter(requested), true);
  assert.equal(requested.bar.stoppingAfter, true);
  assert.deepEqual(submitView(requested),
    { state: "running", skipping: false, stoppingAfter: true, busy: false, canRestore: false });
  const held = { kind: "interrupt", when: "after_job", keep_partial: false };
  const answered = reduce(requested, { type: "stop_answered", task: task({ state: "running", stop_requested: held }) });
  assert.equal(answered.pending, null);
  assert.equal(isStoppingAfter(answered), true);
  assert.equal(isStopping(answered), false);
});

test("skip: Skip stays off until the job changes, then the job shows as skipped", () => {
  const running = run([{ type: "submitted", task: task() }, event(1, "started"), event(2, "progress", progress())]);
  const requested = reduce(running, { type: "skip_requested" });
  assert.equal(isSkipping(requested), true);
  const held = { kind: "skip", when: "now", keep_partial: false };
  const answered = reduce(requested, { type: "skip_answered", job: 0,
    task: task({ state: "running", stop_requested: held }) });
  assert.deepEqual([answered.pending, answered.skipJob], [null, 0]);
  assert.equal(isSkipping(answered), true);

  const sameJob = reduce({ ...answered, task: { ...answered.task, stop_requested: held } },
    event(3, "progress", progress({ step: 3 })));
  assert.equal(sameJob.skipJob, 0);
  assert.deepEqual(sameJob.task.stop_requested, held);
  assert.equal(submitView(sameJob).skipping, true);

  const nextJob = reduce(sameJob, event(4, "progress", progress({ job_no: 1, progress: 0.5 })));
  assert.equal(nextJob.skipJob, null);
  assert.equal(nextJob.task.stop_requested, null);
  assert.equal(isSkipping(nextJob), false);
  assert.deepEqual(skippedJobs(nextJob.task), [0]);

  const final = task({ state: "completed", images: [image(0, 1)], progress: progress({ job_no: 2, progress: 1 }) });
  const done = reduce(nextJob, event(6, "completed", { task: final }));
  assert.deepEqual(statsView(done), { state: "completed", stats: null, skipped: 1 });
});

test("a skip the server did not take (the job had ended) leaves Skip as it was", () => {
  const running = run([{ type: "submitted", task: task() }, event(1, "started"), event(2, "progress", progress())]);
  const answered = run([{ type: "skip_requested" }, { type: "skip_answered", job: 0, task: task({ state: "running" }) }],
    running);
  assert.deepEqual([answered.pending, answered.skipJob], [null, null]);
});

test("generate forever: images without a total", () => {
  const forever = task({ params: { prompt: "a slime", seed: 1, batch_count: 0, batch_size: 1 } });
  const state = run([
    { type: "submitted", task: forever }, event(1, "started"),
    event(2, "progress", progress({ job_count: 0, step: 4, progress: 1 })), event(3, "image", image(0)),
    event(4, "progress", progress({ job_no: 1, job_count: 0, step: 1, progress: 0.25 })), event(5, "image", image(1)),
    event(6, "progress", progress({ job_no: 2, job_count: 0, step: 2, progress: 0.5, eta_s: 1 })),
  ]);
  assert.deepEqual(state, {
    ...initialState, attachNo: 1, seq: 6, bar: state.bar,
    task: { ...forever, state: "running", position: null, queue_size: null, images: [image(0), image(1)],
      progress: progress({ job_no: 2, job_count: 0, step: 2, progress: 0.5, eta_s: 1 }) },
  });
  assert.deepEqual(state.bar, {
    state: "running", progress: progress({ job_no: 2, job_count: 0, step: 2, progress: 0.5, eta_s: 1 }),
    position: null, size: null, attempt: undefined, startsIn: null, stoppingAfter: false,
  });
  assert.deepEqual(skippedJobs(state.task), []);
});

test("worker lost: the task is requeued, keeps its place and says which attempt runs", () => {
  const running = run([{ type: "submitted", task: task() }, event(1, "started"),
    event(2, "progress", progress({ step: 3 }))]);
  const requeued = run([event(3, "queued", { position: 1, size: 1, requeued: true, attempt: 2 })], running);
  assert.deepEqual(requeued.task, {
    ...running.task, state: "queued", position: 1, queue_size: 1, starts_in_s: null, attempt: 2,
  });
  assert.deepEqual(requeued.bar, {
    state: "queued", progress: progress({ step: 3 }), position: 1, size: 1, attempt: 2, startsIn: null,
    stoppingAfter: false,
  });
  assert.equal(submitView(requeued).state, "queued");
  const again = run([event(4, "started"), event(5, "progress", progress({ step: 1 }))], requeued);
  assert.deepEqual([again.task.state, again.bar.attempt, again.bar.progress.step], ["running", 2, 1]);
  // A later place update that is not a requeue keeps the attempt.
  assert.equal(reduce(again, event(5, "queued", { position: 1, size: 1 })).task.attempt, 2);
});

test("Ctrl+Enter during a run lets the task go; the bar keeps it until the new task is attached", () => {
  const running = run([{ type: "submitted", task: task() }, event(1, "started"), event(2, "progress", progress())]);
  const submitting = reduce(running, { type: "submit" });
  assert.deepEqual([submitting.task, submitting.pending, submitting.skipJob, submitting.preview],
    [null, "submit", null, null]);
  assert.deepEqual(submitting.bar, running.bar);
  assert.equal(submitView(submitting).busy, true);
  const failed = reduce(submitting, { type: "submit_failed" });
  assert.deepEqual(submitView(failed), { state: "idle", busy: false, canRestore: false });
});

test("a lost task leaves the bar empty; a failed control gives the buttons back", () => {
  const running = run([{ type: "submitted", task: task() }, event(1, "started")]);
  const failed = run([{ type: "stop_requested", when: "interrupt" }, { type: "control_failed", id: ID }], running);
  assert.equal(failed.pending, null);
  assert.equal(submitView(failed).state, "running");
  assert.equal(reduce(failed, { type: "control_failed", id: "another" }), failed);
  const lost = reduce(running, { type: "lost" });
  assert.deepEqual([lost.task, lost.bar, lost.pending], [null, null, null]);
});

test("the newest tasks feed the queue and Restore progress", () => {
  const tasks = [
    task({ id: "c", state: "queued", position: 3 }), task({ id: "b", state: "queued", position: 2 }),
    task({ id: "r", state: "running", position: null }), task({ id: "a", state: "completed", position: null }),
  ];
  const idle = reduce(initialState, { type: "tasks_loaded", tasks });
  assert.equal(idle.restoreId, "c");
  assert.equal(submitView(idle).canRestore, true);
  assert.deepEqual(queuedTasks(idle).map((t) => t.id), ["b", "c"]);

  const attached = reduce(idle, { type: "attach", task: task({ id: "c", position: 3 }) });
  assert.equal(attached.restoreId, null);
  assert.equal(reduce(attached, { type: "tasks_loaded", tasks }).restoreId, null, "the attached task is not offered");
  assert.equal(reduce(idle, { type: "tasks_failed" }).restoreId, null);
});

test("a stalled stop: the task is let go and the stop read again keeps the state", () => {
  const held = { kind: "interrupt", when: "now", keep_partial: false };
  const running = run([{ type: "submitted", task: task() }, event(1, "started")]);
  const reread = reduce(running, { type: "stop_state", task: task({ state: "running", stop_requested: held }) });
  assert.deepEqual(reread.task.stop_requested, held);
  const gone = reduce(reread, { type: "detach" });
  assert.deepEqual([gone.task, gone.skipJob, gone.preview], [null, null, null]);
  assert.deepEqual(gone.bar, reread.bar);
  const final = task({ state: "interrupted" });
  assert.equal(reduce(gone, { type: "finished", task: final }), gone, "no task attached: nothing to finish");
  assert.deepEqual(reduce(reread, { type: "finished", task: final }).task, final);
});
