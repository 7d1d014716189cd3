// Messages for the user: an alert for problems, a polite live region for state changes.
import { onLocaleChange } from "./i18n.js";

// A notice is text, or a function that makes it: that one is made again when the language changes and as the
// user edits the form (a field's complaint goes once the field is fixed: the function returns null).
export class Notices {
  constructor(doc = document) {
    this.alert = doc.getElementById("alert");
    this.live = doc.getElementById("announce");
    this.make = null;
    onLocaleChange(() => this.refresh());
    doc.addEventListener("input", () => this.refresh());
  }

  error(text) {
    this.show(text, "error");
  }

  info(text) {
    this.show(text, "info");
  }

  show(text, kind) {
    this.make = typeof text === "function" ? text : () => text;
    this.alert.dataset.kind = kind;
    this.refresh();
  }

  refresh() {
    if (!this.make) return;
    const text = this.make();
    if (!text) {
      this.clear();
      return;
    }
    this.alert.textContent = text;
    this.alert.hidden = false;
  }

  clear() {
    this.make = null;
    this.alert.hidden = true;
    this.alert.textContent = "";
  }

  /** Clear a notice about the state of things (a job skipped): not a problem the user must still read. */
  clearInfo() {
    if (this.alert.dataset.kind === "info") this.clear();
  }

  /** Read out by screen readers, not shown. */
  announce(text) {
    this.live.textContent = text;
  }
}
