/** Times for people, in the user's Home Assistant language. */

export function clockTime(ms: number, language: string | undefined): string {
  const date = new Date(ms);
  const options: Intl.DateTimeFormatOptions = date.toDateString() === new Date().toDateString() ? { timeStyle: "short" } : { dateStyle: "medium", timeStyle: "short" };
  try {
    return date.toLocaleString(language, options);
  } catch {
    return date.toLocaleString(undefined, options);
  }
}

/** 1:02:03, 12:05, 0:09 */
export function duration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/** "2 minutes ago", "in 5 minutes", "now" */
export function relative(ms: number, now: number, language: string | undefined): string {
  const seconds = Math.round((ms - now) / 1000);
  const [value, unit]: [number, Intl.RelativeTimeFormatUnit] =
    Math.abs(seconds) < 60 ? [seconds, "second"] : Math.abs(seconds) < 3600 ? [Math.round(seconds / 60), "minute"] : [Math.round(seconds / 3600), "hour"];
  let format: Intl.RelativeTimeFormat;
  try {
    format = new Intl.RelativeTimeFormat(language, { numeric: "auto" });
  } catch {
    format = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  }
  return format.format(value, unit);
}
