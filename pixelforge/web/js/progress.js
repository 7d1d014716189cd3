// The progress bar and its text: percentage, step s/n, job j/n, ETA, what the task is doing (its
// phase, in the page's language), queue place, and the percentage in the tab title while it runs.
import { t } from "./i18n.js";
import { formatEta, percent } from "./format.js";
import { startsIn } from "./queue.js";

const TITLE = "pixelforge";

export class ProgressView {
  constructor(doc = document) {
    this.block = doc.getElementById("progress-block");
    this.bar = doc.getElementById("progressbar");
    this.fill = doc.getElementById("progress-fill");
    this.percentText = doc.getElementById("progress-percent");
    this.queue = doc.getElementById("progress-queue");
    this.starts = doc.getElementById("progress-starts");
    this.step = doc.getElementById("progress-step");
    this.job = doc.getElementById("progress-job");
    this.eta = doc.getElementById("progress-eta");
    this.textinfo = doc.getElementById("progress-textinfo");
    this.last = null;
  }

  /**
   * @param {{state: string, progress: object, position?: number|null, size?: number|null, attempt?: number}|null} view
   *   state is the task's state; progress is a ProgressOut; position/size while queued; attempt once its worker
   *   was lost and it was requeued (2 for the second run).
   */
  render(view) {
    this.last = view;
    if (!view) {
      this.block.hidden = true;
      document.title = TITLE;
      return;
    }
    const { state, progress } = view;
    const value = state === "completed" ? 100 : percent(progress.progress ?? 0);
    this.block.hidden = false;
    this.block.dataset.state = state;
    this.bar.setAttribute("aria-valuenow", String(value));
    this.fill.style.width = `${value}%`;
    this.percentText.textContent = `${value}%`;

    const queued = state === "queued";
    const running = state === "running";
    const parts = [];
    show(this.queue, queued && view.position != null, () =>
      t("inQueue", { position: view.position, size: view.size ?? view.position }));
    show(this.starts, queued && view.startsIn != null, () => startsIn(view.startsIn));
    show(this.step, running && progress.steps > 0 && progress.phase !== "load", () => {
      const step = Math.min(progress.step, progress.steps);
      return t("stepOf", { step, steps: progress.steps });
    });
    show(this.job, (running || state === "completed") && progress.job_count !== 1, () => progress.job_count === 0
      ? t("imageNo", { image: progress.job_no + 1 }) // generate forever: no total
      : t("jobOf", { job: Math.min(progress.job_no + 1, progress.job_count), count: progress.job_count }));
    show(this.eta, running && progress.eta_s != null, () => t("eta", { eta: formatEta(progress.eta_s) }));
    for (const el of [this.queue, this.starts, this.step, this.job, this.eta]) if (!el.hidden) parts.push(el.textContent);

    const phase = queued ? "queued" : progress.phase;
    const requeued = view.attempt > 1 ? ` ${t("requeued", { attempt: view.attempt })}` : "";
    this.textinfo.textContent = running || queued ? t(`phase_${phase}`) + requeued : "";
    if (running && view.stoppingAfter) this.textinfo.textContent += ` · ${t("stoppingAfter")}`;
    this.bar.setAttribute("aria-valuetext", [`${value}%`, ...parts].join(", "));

    if (running) document.title = `[${value}%] ${TITLE}`;
    else if (queued && view.position != null) document.title = `[${t("inQueue", view)}] ${TITLE}`;
    else document.title = TITLE;
  }

  /** Re-render in the current language. */
  refresh() {
    this.render(this.last);
  }
}

function show(el, visible, text) {
  el.hidden = !visible;
  if (visible) el.textContent = text();
}
