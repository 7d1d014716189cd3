// Under the prompt, for a model that reads words (the bundled sprite model): the words it will ignore and the
// ones it reads as another word, asked of the server (GET /models/{name}/words) once typing pauses.
import { api } from "./api.js";
import { t } from "./i18n.js";

const PAUSE_MS = 300; // one read when typing pauses, not one per key
const MAX_PROMPT = 2000; // the route's bound

export class PromptWords {
  /** prompt: the textarea; note: the line under it; model: () => the selected /models entry, or null. */
  constructor(prompt, note, model) {
    this.prompt = prompt;
    this.note = note;
    this.model = model;
    this.timer = null;
    this.asked = 0; // the newest read: an older answer arriving late is dropped
    this.reading = null;
    prompt.addEventListener("input", () => this.schedule());
  }

  schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.read(), PAUSE_MS);
  }

  async read() {
    const model = this.model();
    const text = this.prompt.value.trim().slice(0, MAX_PROMPT);
    const asked = ++this.asked;
    let reading = null;
    if (model?.vocabulary && text) {
      try {
        reading = await api.words(model.name, text);
      } catch {
        reading = null; // a hint only: the prompt still goes as typed
      }
    }
    if (asked === this.asked) this.show(reading);
  }

  show(reading) {
    this.reading = reading;
    const words = reading?.words ?? [];
    const ignored = words.filter((word) => word.read_as === "unknown").map((word) => word.word);
    const nearest = words.filter((word) => word.read_as === "nearest")
      .map((word) => `${word.word} → ${word.known_word}`);
    const parts = [];
    if (ignored.length) parts.push(t("wordsIgnored", { words: ignored.join(", ") }));
    if (nearest.length) parts.push(t("wordsReadAs", { words: nearest.join(", ") }));
    this.note.textContent = parts.join(" · ");
    this.note.hidden = !parts.length;
  }

  refresh() {
    this.show(this.reading);
  }
}
