// The parameters form: read into a TaskParams body, remembered in localStorage, filled from history.
import { t, tOr } from "./i18n.js";
import { storage } from "./storage.js";

const KEY = "settings";
const TEXT = ["prompt", "negative_prompt"];
const INTS = ["width", "height", "steps", "seed", "batch_count", "batch_size"];
const FLOATS = ["cfg_scale"];
const OPTIONAL = new Set(["width", "height", "steps", "cfg_scale"]); // empty = the model's default
// The pixel-art group (PixelOptions, sent as `pixel`): mode "default" sends nothing, "off" {enabled: false}.
const PIXEL_FIELDS = ["pixel_mode", "pixel_palette", "pixel_colors", "pixel_pitch", "pixel_dither"];
const PIXEL_CHECKS = ["pixel_remove_background", "pixel_remove_enclosed"];

export class ParamsForm {
  constructor(doc = document) {
    this.form = doc.getElementById("params");
    this.model = doc.getElementById("model");
    this.modelNote = doc.getElementById("model-note");
    this.wakeLock = doc.getElementById("wake_lock");
    this.seed = doc.getElementById("seed");
    this.pixelGroup = doc.getElementById("pixel-group");
    this.pixelOptions = doc.getElementById("pixel-options");
    this.pixelSummary = doc.getElementById("pixel-summary");
    this.img2imgGroup = doc.getElementById("img2img-group");
    this.pixelPitchNote = doc.getElementById("pixel-pitch-note");
    this.models = [];
    this.savedModel = null;
    this.form.addEventListener("input", (event) => {
      event.target.removeAttribute?.("aria-invalid");
      this.save();
    });
    this.form.addEventListener("change", () => this.save());
    this.form.addEventListener("submit", (event) => event.preventDefault());
    this.model.addEventListener("change", () => this.describeModel());
    this.form.addEventListener("change", () => this.describePixel());
    this.pixelGroup.addEventListener("toggle", () => this.save());
    doc.getElementById("seed-random").addEventListener("click", () => this.setField("seed", -1));
    this.restore();
    this.describePixel();
  }

  field(name) {
    return this.form.elements.namedItem(name);
  }

  /** Mark the fields of a refused submit (422) and return what makes the line naming them (in the current
   * language, only the fields still marked: null once all are fixed); null when the error is not about fields. */
  showInvalid(error) {
    const problems = (error?.fields ?? []).map((item) => ({ ...item, el: this.fieldFor(item.loc ?? [], item.msg) }))
      .filter((problem) => problem.el);
    if (!problems.length) return null;
    for (const { el } of problems) el.setAttribute("aria-invalid", "true");
    for (const group of [this.pixelGroup, this.img2imgGroup]) {
      if (problems.some(({ el }) => group.contains(el))) group.open = true;
    }
    problems[0].el.focus();
    return () => {
      const left = problems.filter(({ el }) => el.getAttribute("aria-invalid") === "true");
      if (!left.length) return null;
      const lines = left.map(({ el, msg, type }) =>
        t("invalidField", { label: this.labelOf(el), problem: fieldMessage({ msg, type }) }));
      return t("errorInvalid", { detail: lines.join(t("invalidSeparator")) });
    };
  }

  clearInvalid() {
    for (const el of this.form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  }

  /** The form control of an error: loc ["body", "steps"] -> #steps, ["body", "pixel", "pitch"] -> #pixel_pitch,
   * ["body", "img2img", "denoising_strength"] -> #denoising_strength; the pixel-art stage's own checks say
   * ["body", "pixel"] and name the option in the message. */
  fieldFor(loc, msg = "") {
    const path = loc.filter((part) => part !== "body");
    if (!path.length) return null;
    let name = path[0];
    if (name === "img2img" && path[1]) name = path[1];
    if (name === "pixel") {
      const option = path[1] ?? ["pitch", "palette", "colors", "dither"].find((word) => msg.includes(word));
      name = option ? `pixel_${option}` : "pixel_mode";
    }
    const el = this.field(name);
    return el instanceof HTMLElement ? el : null;
  }

  /** The field's label as shown, in the UI's language. */
  labelOf(el) {
    return el.labels?.[0]?.textContent.trim() || el.name;
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

  get notifyEnabled() {
    return this.field("notify").checked;
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
    if (this.field("forever").checked) body.batch_count = 0; // until stopped
    const pixel = this.pixelParams();
    if (pixel) body.pixel = pixel;
    return body;
  }

  /** PixelOptions for the task, or null for the model's default. Values go as typed: the server validates. */
  pixelParams() {
    const mode = this.field("pixel_mode").value;
    if (mode === "off") return { enabled: false };
    if (mode !== "on") return null;
    const pixel = {
      enabled: true,
      dither: this.field("pixel_dither").value,
      remove_background: this.field("pixel_remove_background").checked,
      remove_enclosed: this.field("pixel_remove_enclosed").checked,
    };
    const palette = this.field("pixel_palette").value;
    if (palette) pixel.palette = palette;
    else {
      const colors = this.field("pixel_colors").value.trim();
      if (colors !== "") pixel.colors = Number.parseInt(colors, 10);
    }
    const pitch = this.field("pixel_pitch").value.trim();
    if (pitch !== "" && !this.pitchMeaningless()) pixel.pitch = Number.parseFloat(pitch);
    return pixel;
  }

  /** Options only apply when the mode is On; the colour budget only to the adaptive palette. */
  /** A model that draws one pixel per art pixel (the sprite model: a native size, no pitch) has no pitch to
   * detect or give: the field is not offered then. */
  pitchMeaningless() {
    const model = this.selectedModel();
    return Boolean(model?.native_size && !model.pixel_pitch);
  }

  describePixel() {
    const hidePitch = this.pitchMeaningless();
    this.field("pixel_pitch").closest(".field").hidden = hidePitch;
    this.pixelPitchNote.hidden = hidePitch;
    const mode = this.field("pixel_mode").value;
    this.pixelOptions.disabled = mode !== "on";
    this.field("pixel_colors").disabled = Boolean(this.field("pixel_palette").value);
    const option = this.field("pixel_mode").selectedOptions[0];
    this.pixelSummary.textContent = mode === "default" ? "" : `· ${option?.textContent ?? mode}`;
  }

  save() {
    const values = {};
    for (const name of [...TEXT, ...INTS, ...FLOATS]) values[name] = this.field(name).value;
    values.model = this.model.value || this.savedModel;
    values.wake_lock = this.wakeLock.checked;
    values.forever = this.field("forever").checked;
    values.notify = this.field("notify").checked;
    for (const name of PIXEL_FIELDS) values[name] = this.field(name).value;
    for (const name of PIXEL_CHECKS) values[name] = this.field(name).checked;
    values.pixel_open = this.pixelGroup.open;
    storage.set(KEY, values);
  }

  restore() {
    const values = storage.get(KEY);
    if (!values) return;
    for (const name of [...TEXT, ...INTS, ...FLOATS]) {
      if (values[name] !== undefined) this.field(name).value = values[name];
    }
    if (values.wake_lock !== undefined) this.wakeLock.checked = values.wake_lock;
    this.field("forever").checked = Boolean(values.forever);
    this.field("notify").checked = Boolean(values.notify) && notificationsAllowed();
    for (const name of PIXEL_FIELDS) {
      if (values[name] !== undefined) this.field(name).value = values[name];
    }
    for (const name of PIXEL_CHECKS) {
      if (values[name] !== undefined) this.field(name).checked = values[name];
    }
    if (values.pixel_open !== undefined) this.pixelGroup.open = values.pixel_open;
    this.savedModel = values.model ?? null;
  }

  /** Fill the form from a task's params (history "reuse"). Unset values become empty fields. */
  apply(params) {
    for (const name of [...TEXT, ...INTS, ...FLOATS]) {
      const value = params[name];
      this.field(name).value = value === null || value === undefined ? "" : String(value);
    }
    this.field("forever").checked = params.batch_count === 0;
    if (params.batch_count === 0) this.field("batch_count").value = "1";
    if (params.model && [...this.model.options].some((option) => option.value === params.model)) {
      this.model.value = params.model;
    } else if (!params.model) {
      this.model.value = "";
    }
    this.applyPixel(params.pixel);
    this.describeModel();
    this.save();
    this.field("prompt").dispatchEvent(new Event("input")); // its listeners (the words it reads) see the new text
  }

  /** The pixel group from a task's `pixel` (null: the model's default). */
  applyPixel(pixel) {
    const set = (name, value) => {
      this.field(name).value = value;
    };
    if (!pixel) {
      set("pixel_mode", "default");
    } else if (pixel.enabled === false) {
      set("pixel_mode", "off");
    } else {
      set("pixel_mode", "on");
      const builtIn = [...this.field("pixel_palette").options].some((option) => option.value === pixel.palette);
      set("pixel_palette", pixel.palette && builtIn ? pixel.palette : "");
      set("pixel_colors", pixel.colors ?? "");
      set("pixel_pitch", pixel.pitch ?? "");
      set("pixel_dither", pixel.dither ?? "none");
      this.field("pixel_remove_background").checked = pixel.remove_background !== false;
      this.field("pixel_remove_enclosed").checked = pixel.remove_enclosed === true;
      this.pixelGroup.open = true;
    }
    this.describePixel();
  }

  setModels(models) {
    this.models = models;
    this.renderModels();
  }

  renderModels() {
    const wanted = this.model.value || this.savedModel;
    const options = [new Option(t("modelDefault"), "")];
    for (const model of this.models) {
      const title = tOr(`modelTitle_${model.name}`, model.title);
      const text = model.available ? title : t("modelUnavailable", { title });
      const option = new Option(text, model.name);
      option.disabled = !model.available;
      option.title = model.problem ?? tOr(`modelDescription_${model.name}`, model.description);
      options.push(option);
    }
    this.model.replaceChildren(...options);
    const usable = this.models.some((model) => model.name === wanted && model.available);
    this.model.value = usable ? wanted : "";
    this.describeModel();
  }

  /** The /models entry tasks will use: the one picked, else the server's default; null before the list came. */
  selectedModel() {
    return this.models.find((entry) => entry.name === this.model.value)
      ?? this.models.find((entry) => entry.default) ?? null;
  }

  describeModel() {
    const model = this.selectedModel();
    this.modelNote.hidden = !model;
    if (model) this.modelNote.textContent = tOr(`modelDescription_${model.name}`, model.description);
    this.describePixel();
  }

  refresh() {
    if (this.models.length) this.renderModels();
    this.describePixel();
  }
}

// The locale key of a refused field, by the type of its error (pydantic's, which the server's own bounds use too).
const FIELD_ERRORS = {
  greater_than_equal: "invalidMin",
  greater_than: "invalidAbove",
  less_than_equal: "invalidMax",
  less_than: "invalidBelow",
  multiple_of: "invalidMultiple16",
  string_too_long: "invalidMaxChars",
  int_parsing: "invalidInteger",
  int_from_float: "invalidInteger",
  int_type: "invalidInteger",
  float_parsing: "invalidNumber",
  float_type: "invalidNumber",
};

/** A refused field's error ({msg, type}) in the UI's language, by its type; the bound is the first number of its
 * message. An error of another type is shown as the server wrote it. */
function fieldMessage({ msg = "", type = "" }) {
  const key = FIELD_ERRORS[type];
  return key ? t(key, { value: msg.match(/-?\d+(?:\.\d+)?/)?.[0] }) : msg;
}

/** Whether the browser lets this page show notifications (asked for when the box is ticked). */
export function notificationsAllowed() {
  return typeof Notification !== "undefined" && Notification.permission === "granted";
}
