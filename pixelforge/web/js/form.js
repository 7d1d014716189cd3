// The parameters form: read into a TaskParams body, remembered in localStorage, filled from history.
import { t } from "./i18n.js";
import { storage } from "./storage.js";

const KEY = "settings";
const TEXT = ["prompt", "negative_prompt"];
const INTS = ["width", "height", "steps", "seed", "batch_count", "batch_size"];
const FLOATS = ["cfg_scale"];
const OPTIONAL = new Set(["width", "height", "steps", "cfg_scale"]); // empty = the model's default

export class ParamsForm {
  constructor(doc = document) {
    this.form = doc.getElementById("params");
    this.model = doc.getElementById("model");
    this.modelNote = doc.getElementById("model-note");
    this.wakeLock = doc.getElementById("wake_lock");
    this.seed = doc.getElementById("seed");
    this.models = [];
    this.savedModel = null;
    this.form.addEventListener("input", () => this.save());
    this.form.addEventListener("change", () => this.save());
    this.form.addEventListener("submit", (event) => event.preventDefault());
    this.model.addEventListener("change", () => this.describeModel());
    doc.getElementById("seed-random").addEventListener("click", () => this.setField("seed", -1));
    this.restore();
  }

  field(name) {
    return this.form.elements.namedItem(name);
  }

  setField(name, value) {
    const el = this.field(name);
    if (!el) return;
    if (el.type === "checkbox") el.checked = Boolean(value);
    else el.value = value ?? "";
    this.save();
  }

  get wakeLockEnabled() {
    return this.wakeLock.checked;
  }

  /** The body for POST /api/v1/tasks. */
  params() {
    const body = {};
    for (const name of TEXT) body[name] = this.field(name).value;
    for (const name of [...INTS, ...FLOATS]) {
      const raw = this.field(name).value.trim();
      if (raw === "") {
        if (!OPTIONAL.has(name)) body[name] = name === "seed" ? -1 : 1;
        continue;
      }
      body[name] = FLOATS.includes(name) ? Number.parseFloat(raw) : Number.parseInt(raw, 10);
    }
    if (this.model.value) body.model = this.model.value;
    return body;
  }

  save() {
    const values = {};
    for (const name of [...TEXT, ...INTS, ...FLOATS]) values[name] = this.field(name).value;
    values.model = this.model.value || this.savedModel;
    values.wake_lock = this.wakeLock.checked;
    storage.set(KEY, values);
  }

  restore() {
    const values = storage.get(KEY);
    if (!values) return;
    for (const name of [...TEXT, ...INTS, ...FLOATS]) {
      if (values[name] !== undefined) this.field(name).value = values[name];
    }
    if (values.wake_lock !== undefined) this.wakeLock.checked = values.wake_lock;
    this.savedModel = values.model ?? null;
  }

  /** Fill the form from a task's params (history "reuse"). Unset values become empty fields. */
  apply(params) {
    for (const name of [...TEXT, ...INTS, ...FLOATS]) {
      const value = params[name];
      this.field(name).value = value === null || value === undefined ? "" : String(value);
    }
    if (params.model && [...this.model.options].some((option) => option.value === params.model)) {
      this.model.value = params.model;
    } else if (!params.model) {
      this.model.value = "";
    }
    this.describeModel();
    this.save();
  }

  setModels(models) {
    this.models = models;
    this.renderModels();
  }

  renderModels() {
    const wanted = this.model.value || this.savedModel;
    const options = [new Option(t("modelDefault"), "")];
    for (const model of this.models) {
      const text = model.available ? model.title : t("modelUnavailable", { title: model.title });
      const option = new Option(text, model.name);
      option.disabled = !model.available;
      option.title = model.problem ?? model.description;
      options.push(option);
    }
    this.model.replaceChildren(...options);
    const usable = this.models.some((model) => model.name === wanted && model.available);
    this.model.value = usable ? wanted : "";
    this.describeModel();
  }

  describeModel() {
    const model = this.models.find((entry) => entry.name === this.model.value)
      ?? this.models.find((entry) => entry.default);
    this.modelNote.hidden = !model;
    if (model) this.modelNote.textContent = model.description;
  }

  refresh() {
    if (this.models.length) this.renderModels();
  }
}
