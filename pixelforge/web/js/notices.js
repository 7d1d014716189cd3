// Messages for the user: an alert for problems, a polite live region for state changes.
export class Notices {
  constructor(doc = document) {
    this.alert = doc.getElementById("alert");
    this.live = doc.getElementById("announce");
  }

  error(text) {
    this.show(text, "error");
  }

  info(text) {
    this.show(text, "info");
  }

  show(text, kind) {
    this.alert.textContent = text;
    this.alert.dataset.kind = kind;
    this.alert.hidden = false;
  }

  clear() {
    this.alert.hidden = true;
    this.alert.textContent = "";
  }

  /** Read out by screen readers, not shown. */
  announce(text) {
    this.live.textContent = text;
  }
}
