// The opt-in end notice: a browser notification and a short tone when the attached task ends while this tab
// is hidden (the server goes on with every tab closed; this only tells a person who left the tab open).
import { t } from "./i18n.js";

export class EndNotice {
  /** enabled(): whether the box is ticked. */
  constructor(enabled, notices, doc = document) {
    this.enabled = enabled;
    this.doc = doc;
    this.box = doc.getElementById("notify");
    this.box.addEventListener("change", () => this.ask(notices));
  }

  /** Ticking the box asks the browser once; a refusal unticks it and says why. */
  async ask(notices) {
    if (!this.box.checked) return;
    const permission = typeof Notification === "undefined" ? "denied" : await Notification.requestPermission();
    if (permission !== "granted") {
      this.box.checked = false;
      notices.error(t("notifyDenied"));
    }
  }

  /** A task ended live (its terminal event came here). */
  taskEnded(task) {
    if (!this.enabled() || !this.doc.hidden || typeof Notification === "undefined") return;
    if (Notification.permission !== "granted") return;
    const images = task.images?.length ?? 0;
    new Notification(t("notifyTitle", { state: t(`state_${task.state}`) }), {
      body: `${task.params?.prompt ?? ""} · ${t("notifyImages", { count: images })}`,
      tag: task.id,
    });
    chime();
  }
}

/** A short, quiet tone (no sound file to ship). */
function chime() {
  try {
    const audio = new AudioContext();
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.setValueAtTime(0.08, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.4);
    tone.connect(gain).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.4);
    tone.onended = () => audio.close();
  } catch {
    // no audio here: the notification alone says it
  }
}
