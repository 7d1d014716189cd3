// Entry point: build the views, wire them to the controller, re-attach to a running task.
import { api } from "./api.js";
import { App } from "./app.js";
import { SubmitArea } from "./controls.js";
import { ParamsForm } from "./form.js";
import { Gallery } from "./gallery.js";
import { HistoryView } from "./history.js";
import { initialLocale, onLocaleChange, setLocale } from "./i18n.js";
import { ImageInput } from "./imageinput.js";
import { installShortcuts, labelShortcutKeys } from "./keyboard.js";
import { MaskEditor } from "./maskeditor.js";
import { Notices } from "./notices.js";
import { EndNotice } from "./notify.js";
import { QueueView } from "./queue.js";
import { RecentImages } from "./recent.js";
import { Stage } from "./preview.js";
import { ProgressView } from "./progress.js";
import { PromptWords } from "./promptwords.js";
import { StatsView } from "./stats.js";
import { storage } from "./storage.js";
import { WakeLock } from "./wakelock.js";

const language = document.getElementById("language");
setLocale(initialLocale(), { remember: false });
language.value = document.documentElement.lang;
language.addEventListener("change", () => setLocale(language.value));
labelShortcutKeys();

const form = new ParamsForm();
const input = new ImageInput({ mask: new MaskEditor(), model: () => form.selectedModel() });
const promptWords = new PromptWords(document.getElementById("prompt"), document.getElementById("prompt-words"),
  () => form.selectedModel());
document.getElementById("model").addEventListener("change", () => {
  input.modelChanged();
  promptWords.schedule();
});
const notices = new Notices();
let app;
const submit = new SubmitArea({
  generate: () => app.generate(),
  interrupt: (keepPartial) => app.interrupt(keepPartial),
  skip: () => app.skip(),
  stopAfterImage: () => app.stopAfterImage(),
  restore: () => app.restore(),
});
const history = new HistoryView({
  onReuse: (task) => app.reuse(task), onShow: (task) => app.show(task), onRetry: (task) => app.retry(task),
  onRefresh: () => app.loadTasks(),
});
const queue = new QueueView({
  onChange: () => app.loadTasks(),
  onError: (error) => notices.error(error?.detail ?? error?.message ?? String(error)),
});
const useAsInput = (image, taskId) => app.useAsInput(image, taskId);
const recent = new RecentImages({ onShow: (task) => app.show(task), onUseAsInput: useAsInput });
app = new App({
  form,
  input,
  submit,
  notices,
  history,
  queue,
  recent,
  endNotice: new EndNotice(() => form.notifyEnabled, notices),
  progress: new ProgressView(),
  stage: new Stage(),
  gallery: new Gallery({ onUseAsInput: useAsInput }),
  stats: new StatsView(),
  wakeLock: new WakeLock(() => form.wakeLockEnabled),
});
window.pixelforge = app; // for the console and the browser tests

document.getElementById("seed-reuse").addEventListener("click", () => app.reuseSeed());
installShortcuts({
  generate: () => app.generate(),
  skip: () => app.skip(),
  interrupt: () => app.interrupt(false),
});

onLocaleChange(() => {
  language.value = document.documentElement.lang;
  labelShortcutKeys();
  for (const view of [form, input, promptWords, app.progress, app.stage, app.gallery, app.stats, history, queue, recent]) {
    if (view.refresh) view.refresh();
    else if (view.render) view.render();
  }
});

// On phones the action bar is pinned to the bottom: keep that much room under the page.
const actionBar = document.getElementById("action-bar");
new ResizeObserver(() => {
  document.body.style.setProperty("--action-bar-height", `${actionBar.offsetHeight}px`);
}).observe(actionBar);

api.models().then((models) => form.setModels(models), () => form.setModels([])).then(() => {
  input.modelChanged();
  promptWords.schedule();
});
// One read of the caller's tasks fills the history, the recent images and the queue (a restore reads them too).
if (storage.get("activeTask")) app.restore({ automatic: true });
else app.loadTasks();
document.body.dataset.ready = "true";
