// The submit area. Its state follows the server's task state (queued / running / finished); the
// only local state is "interrupt requested", shown as "Interrupting…" until the server confirms
// with the task's terminal event.
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
      stopKeep: doc.getElementById("stop-keep"),
      restore: doc.getElementById("restore"),
    };
    this.state = SubmitState.IDLE;
    this.skipping = false;
    this.canRestore = false;
    this.buttons.generate.addEventListener("click", () => handlers.generate());
    this.buttons.interrupt.addEventListener("click", () => handlers.interrupt(false));
    this.buttons.stopKeep.addEventListener("click", () => handlers.interrupt(true));
    this.buttons.skip.addEventListener("click", () => handlers.skip());
    this.buttons.restore.addEventListener("click", () => handlers.restore());
    this.render();
  }

  set(state, { skipping = false } = {}) {
    this.state = state;
    this.skipping = skipping;
    this.render();
  }

  setSkipping(skipping) {
    this.skipping = skipping;
    this.render();
  }

  setCanRestore(canRestore) {
    this.canRestore = canRestore;
    this.render();
  }

  render() {
    const { generate, interrupt, interrupting, skip, stopKeep, restore } = this.buttons;
    const focused = Object.values(this.buttons).find((button) => button === document.activeElement);
    const s = this.state;
    generate.hidden = s !== SubmitState.IDLE;
    restore.hidden = s !== SubmitState.IDLE || !this.canRestore;
    interrupt.hidden = s !== SubmitState.QUEUED && s !== SubmitState.RUNNING;
    interrupting.hidden = s !== SubmitState.INTERRUPTING;
    skip.hidden = s === SubmitState.IDLE;
    skip.disabled = s !== SubmitState.RUNNING || this.skipping;
    stopKeep.hidden = s !== SubmitState.RUNNING;
    this.area.dataset.state = s;
    document.body.dataset.taskState = s;
    // Keep keyboard focus in the submit area when the button that had it disappears.
    if (focused && (focused.hidden || focused.disabled)) {
      const next = [generate, interrupt, interrupting, skip].find((button) => !button.hidden && !button.disabled);
      next?.focus();
    }
  }
}
