// The submit area: a view of the UI state (the server's task state and the one request in flight, see
// submitView in state.js); it keeps no state of its own beyond what it is told.
export const SubmitState = Object.freeze({
  IDLE: "idle",
  QUEUED: "queued",
  RUNNING: "running",
  INTERRUPTING: "interrupting",
});

export class SubmitArea {
  constructor(handlers, doc = document) {
    this.area = doc.getElementById("submit-area");
    this.buttons = {
      generate: doc.getElementById("generate"),
      interrupt: doc.getElementById("interrupt"),
      interrupting: doc.getElementById("interrupting"),
      skip: doc.getElementById("skip"),
      stopAfter: doc.getElementById("stop-after"),
      stoppingAfter: doc.getElementById("stopping-after"),
      stopKeep: doc.getElementById("stop-keep"),
      restore: doc.getElementById("restore"),
    };
    this.state = SubmitState.IDLE;
    this.skipping = false;
    this.stoppingAfter = false;
    this.busy = false;
    this.canRestore = false;
    this.buttons.generate.addEventListener("click", () => handlers.generate());
    this.buttons.interrupt.addEventListener("click", () => handlers.interrupt(false));
    this.buttons.stopKeep.addEventListener("click", () => handlers.interrupt(true));
    this.buttons.skip.addEventListener("click", () => handlers.skip());
    this.buttons.stopAfter.addEventListener("click", () => handlers.stopAfterImage());
    this.buttons.restore.addEventListener("click", () => handlers.restore());
    this.render();
  }

  /** From the UI state (see submitView in state.js): state is a SubmitState; busy: a submit is on its way (Generate
   * waits for it); skipping: a skip is pending; stoppingAfter: the task stops once its running image is done
   * (Interrupt still stops it at once); canRestore: an unfinished task of ours is not attached. */
  update({ state, skipping = false, busy = false, stoppingAfter = false, canRestore = false }) {
    Object.assign(this, { state, skipping, busy, stoppingAfter, canRestore });
    this.render();
  }

  render() {
    const { generate, interrupt, interrupting, skip, stopAfter, stoppingAfter, stopKeep, restore } = this.buttons;
    const focused = Object.values(this.buttons).find((button) => button === document.activeElement);
    const s = this.state;
    generate.hidden = s !== SubmitState.IDLE;
    // aria-disabled, not disabled: the button keeps the keyboard focus while the submit is on its way.
    generate.setAttribute("aria-disabled", String(this.busy));
    restore.hidden = s !== SubmitState.IDLE || !this.canRestore;
    interrupt.hidden = s !== SubmitState.QUEUED && s !== SubmitState.RUNNING;
    interrupting.hidden = s !== SubmitState.INTERRUPTING;
    skip.hidden = s === SubmitState.IDLE;
    skip.disabled = s !== SubmitState.RUNNING || this.skipping;
    stopKeep.hidden = s !== SubmitState.RUNNING;
    stopAfter.hidden = s !== SubmitState.RUNNING || this.stoppingAfter;
    stoppingAfter.hidden = s !== SubmitState.RUNNING || !this.stoppingAfter;
    this.area.dataset.state = s;
    document.body.dataset.taskState = s;
    // Keep keyboard focus in the submit area when the button that had it disappears.
    if (focused && (focused.hidden || focused.disabled)) {
      const next = [generate, interrupt, interrupting, skip].find((button) => !button.hidden && !button.disabled);
      next?.focus();
    }
  }
}
