// Keep the screen on while a task runs (A1111's prevent_screen_sleep_during_generation).
// Browsers drop the lock when the tab is hidden, so it is taken again when the tab comes back.
export class WakeLock {
  constructor(isEnabled) {
    this.isEnabled = isEnabled;
    this.wanted = false;
    this.sentinel = null;
    document.addEventListener("visibilitychange", () => {
      if (this.wanted && document.visibilityState === "visible") this.acquire();
    });
  }

  get supported() {
    return "wakeLock" in navigator;
  }

  async acquire() {
    this.wanted = true;
    if (!this.supported || !this.isEnabled() || (this.sentinel && !this.sentinel.released)) return;
    try {
      const sentinel = await navigator.wakeLock.request("screen");
      if (!this.wanted) {
        await sentinel.release();
        return;
      }
      this.sentinel = sentinel;
      document.body.dataset.wakeLock = "held";
      sentinel.addEventListener("release", () => {
        if (this.sentinel === sentinel) document.body.dataset.wakeLock = "released";
      });
    } catch {
      /* refused (battery saver, hidden tab, policy): generation goes on regardless */
    }
  }

  async release() {
    this.wanted = false;
    const sentinel = this.sentinel;
    this.sentinel = null;
    if (sentinel && !sentinel.released) {
      try {
        await sentinel.release();
      } catch {
        /* already gone */
      }
    }
    if (document.body.dataset.wakeLock === "held") document.body.dataset.wakeLock = "released";
  }
}
