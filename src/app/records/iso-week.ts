/**
 * ISO 8601 week arithmetic in UTC, for the weekly best-difficulty record ("week (ISO week,
 * resets Monday 00:00 UTC)"). ISO weeks start on Monday; week 1 is the week holding the year's first
 * Thursday, so the ISO year of a week is the calendar year of its Thursday (e.g. Monday 2024-12-30
 * is in "2025-W01"). Pure: the instant is passed in.
 */

const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;

/** One ISO week: its key and its bounds in ms since the epoch, `[startMs, endMs)`. */
export interface IsoWeek {
  /** `YYYY-Www`, e.g. `"2026-W47"` (the `week` field of `share_best_diff`). */
  key: string;
  /** Monday 00:00:00.000 UTC. */
  startMs: number;
  /** The next Monday 00:00:00.000 UTC (exclusive). */
  endMs: number;
}

/** The ISO week containing `ms` (milliseconds since the epoch, UTC). */
export function isoWeekOf(ms: number): IsoWeek {
  const d = new Date(ms);
  const dayStartMs = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  const mondayIndex = (d.getUTCDay() + 6) % 7; // Monday = 0 … Sunday = 6
  const startMs = dayStartMs - mondayIndex * DAY_MS;
  const thursday = new Date(startMs + 3 * DAY_MS);
  const isoYear = thursday.getUTCFullYear();
  const week = Math.floor((thursday.getTime() - Date.UTC(isoYear, 0, 1)) / WEEK_MS) + 1;
  return { key: `${isoYear}-W${String(week).padStart(2, "0")}`, startMs, endMs: startMs + WEEK_MS };
}
