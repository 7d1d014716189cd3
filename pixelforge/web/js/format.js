// Numbers for people.

/** A1111's ETA format: HH:MM:SS from an hour, MM:SS from a minute, else "Ns". */
export function formatEta(seconds) {
  const total = Math.max(0, Math.round(seconds));
  const pad = (n) => String(n).padStart(2, "0");
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (total >= 3600) return `${pad(h)}:${pad(m)}:${pad(s)}`;
  if (total >= 60) return `${pad(m)}:${pad(s)}`;
  return `${s}s`;
}

export function formatSeconds(seconds) {
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  return formatEta(seconds);
}

export function formatMiB(mib) {
  return mib >= 1024 ? `${(mib / 1024).toFixed(2)} GiB` : `${Math.round(mib)} MiB`;
}

export function percent(progress) {
  return Math.max(0, Math.min(100, Math.floor(progress * 100)));
}
