// Recent images across the caller's tasks, newest first: a click brings that task back on the stage, the
// small button beside it makes the image the init image of the next task.
import { t } from "./i18n.js";
import { imageUrl } from "./api.js";

const IMAGES = 24;

export class RecentImages {
  constructor({ onShow, onUseAsInput }, doc = document) {
    this.list = doc.getElementById("recent-list");
    this.empty = doc.getElementById("recent-empty");
    this.onShow = onShow;
    this.onUseAsInput = onUseAsInput;
    this.entries = []; // [{task, image}]
  }

  /** The caller's newest tasks, newest first (the UI state's, see state.js). */
  update(tasks) {
    // Within a task the last image is the newest.
    this.entries = tasks.flatMap((task) => [...task.images].reverse().map((image) => ({ task, image })))
      .slice(0, IMAGES);
    this.render();
  }

  render() {
    this.list.replaceChildren(...this.entries.map((entry) => this.item(entry)));
    this.empty.hidden = this.entries.length > 0;
  }

  item({ task, image }) {
    const li = document.createElement("li");
    li.className = "recent-item";
    li.dataset.taskId = task.id;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "recent-button";
    const prompt = (task.params.prompt || t("noPrompt")).slice(0, 60);
    button.setAttribute("aria-label", t("recentLabel", { prompt, seed: image.seed }));
    button.title = t("recentLabel", { prompt, seed: image.seed });
    const img = document.createElement("img");
    img.className = "pixelated";
    img.src = imageUrl(image);
    img.alt = "";
    img.loading = "lazy";
    button.append(img);
    button.addEventListener("click", () => this.onShow(task));
    const use = document.createElement("button");
    use.type = "button";
    use.className = "btn btn-small recent-use";
    use.textContent = "⇪";
    use.setAttribute("aria-label", t("useAsInputRecent", { prompt, seed: image.seed }));
    use.title = t("useAsInputRecent", { prompt, seed: image.seed });
    use.addEventListener("click", () => this.onUseAsInput(image, task.id));
    li.append(button, use);
    return li;
  }

  refresh() {
    this.render();
  }
}
