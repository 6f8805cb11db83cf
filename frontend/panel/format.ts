/** Times for people, in the user's Home Assistant language. */

/** A valid locale from Home Assistant's language setting, or the browser's. */
export function locale(language: string | undefined): string | undefined {
  try {
    return Intl.getCanonicalLocales(language)[0];
  } catch {
    return undefined;
  }
}

export function clockTime(ms: number, language: string | undefined): string {
  const date = new Date(ms);
  return date.toLocaleString(language, date.toDateString() === new Date().toDateString() ? { timeStyle: "short" } : { dateStyle: "medium", timeStyle: "short" });
}

/** 1:02:03, 12:05, 0:09 */
export function duration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const pad = (n: number) => String(n).padStart(2, "0");
  const minutes = Math.floor(total / 60);
  return `${total >= 3600 ? `${Math.floor(total / 3600)}:${pad(minutes % 60)}` : minutes}:${pad(total % 60)}`;
}

/** "2 minutes ago", "in 5 minutes", "now" */
export function relative(ms: number, now: number, language: string | undefined): string {
  const seconds = Math.round((ms - now) / 1000);
  const abs = Math.abs(seconds);
  return new Intl.RelativeTimeFormat(language, { numeric: "auto" }).format(
    ...((abs < 60 ? [seconds, "second"] : abs < 3600 ? [Math.round(seconds / 60), "minute"] : [Math.round(seconds / 3600), "hour"]) as [number, Intl.RelativeTimeFormatUnit]),
  );
}
