// The line A1111 prints after a run — time taken, VRAM, RAM — with the time of every phase.
import { t } from "./i18n.js";
import { formatMiB, formatSeconds } from "./format.js";

const PHASES = ["load", "encode", "denoise", "decode", "postprocess"];

export class StatsView {
  constructor(doc = document) {
    this.section = doc.getElementById("stats");
    this.list = doc.getElementById("stats-list");
    this.last = null;
  }

  /** @param {{state: string, stats: object|null, skipped?: number}|null} result */
  render(result) {
    this.last = result;
    if (!result?.stats) {
      this.section.hidden = true;
      return;
    }
    const { stats, state } = result;
    const rows = [[t("statsState"), t(`state_${state}`), "state"], [t("statsTime"), formatSeconds(stats.total_s), "total"]];
    const phases = PHASES.filter((name) => (stats.phases_s?.[name] ?? 0) > 0)
      .map((name) => `${t(`phaseName_${name}`)} ${formatSeconds(stats.phases_s[name])}`);
    if (result.skipped) rows.push([t("statsSkipped"), String(result.skipped), "skipped"]);
    if (phases.length) rows.push([t("statsPhases"), phases.join(" · "), "phases"]);
    if (stats.step_time_s != null) rows.push([t("statsStep"), formatSeconds(stats.step_time_s), "step"]);
    if (stats.peak_vram_allocated_mb != null || stats.peak_vram_reserved_mb != null) {
      const value = t("statsVramValue", {
        allocated: formatMiB(stats.peak_vram_allocated_mb ?? 0),
        reserved: formatMiB(stats.peak_vram_reserved_mb ?? 0),
      });
      rows.push([t("statsVram"), value, "vram"]);
    }
    if (stats.peak_rss_mb != null) rows.push([t("statsRam"), formatMiB(stats.peak_rss_mb), "ram"]);
    if (stats.device) rows.push([t("statsDevice"), stats.device, "device"]);
    this.list.replaceChildren(
      ...rows.flatMap(([name, value, key]) => {
        const dt = document.createElement("dt");
        dt.textContent = name;
        const dd = document.createElement("dd");
        dd.textContent = value;
        dd.dataset.stat = key;
        return [dt, dd];
      }),
    );
    this.section.hidden = false;
  }

  refresh() {
    this.render(this.last);
  }
}
