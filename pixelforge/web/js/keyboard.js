// A1111's shortcuts: Ctrl/⌘+Enter generates (interrupting a running task first), Alt/Option+Enter
// skips, Esc interrupts. The hints next to the prompt name the keys of the user's platform.
export const isMac = /Mac|iPhone|iPad/.test(navigator.userAgentData?.platform ?? navigator.platform ?? "");

export function installShortcuts({ generate, skip, interrupt }) {
  document.addEventListener("keydown", (event) => {
    if (event.isComposing) return; // an IME is composing (Chinese input): Enter belongs to it
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && !event.altKey) {
      event.preventDefault();
      generate();
    } else if (event.key === "Enter" && event.altKey && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      skip();
    } else if (event.key === "Escape" && !event.ctrlKey && !event.metaKey && !event.altKey) {
      // Esc closes an open <select> first; only a plain Esc stops the task.
      if (event.target instanceof HTMLSelectElement) return;
      if (interrupt()) event.preventDefault();
    }
  });
}

export function labelShortcutKeys(root = document) {
  for (const kbd of root.querySelectorAll("kbd[data-kbd]")) {
    if (kbd.dataset.kbd === "mod") kbd.textContent = isMac ? "⌘" : "Ctrl";
    if (kbd.dataset.kbd === "alt") kbd.textContent = isMac ? "⌥ Option" : "Alt";
  }
}
