/**
 * Pure helpers that turn events into the column arrays bound to `unnest($1::type[], …)` statements
 * (one parameter per column, fixed SQL text, no row limit).
 */

/**
 * An event `timestamp` (integer µs since the epoch) as a timestamptz literal with all six fractional
 * digits, e.g. `2026-11-22T00:08:31.123456Z`. Exact: no float seconds, no `Date` rounding to ms, so a
 * replayed event always produces the same `ts` key.
 */
export function timestampText(us: number): string {
  const seconds = Math.floor(us / 1_000_000);
  const micros = us - seconds * 1_000_000;
  const iso = new Date(seconds * 1000).toISOString(); // …T00:08:31.000Z
  return `${iso.slice(0, 19)}.${String(micros).padStart(6, "0")}Z`;
}

/**
 * Column-major view of `rows`: one array per getter, in getter order. `undefined` becomes `null`
 * (SQL NULL) so optional fields bind cleanly.
 */
export function columns<T>(rows: readonly T[], getters: ReadonlyArray<(row: T) => unknown>): unknown[][] {
  return getters.map((get) => rows.map((r) => {
    const v = get(r);
    return v === undefined ? null : v;
  }));
}

/** Keeps the first of each `key`, preserving order; returns the kept items and how many were dropped. */
export function uniqueBy<T>(items: readonly T[], key: (item: T) => string): { kept: T[]; dropped: number } {
  const seen = new Set<string>();
  const kept: T[] = [];
  for (const item of items) {
    const k = key(item);
    if (seen.has(k)) continue;
    seen.add(k);
    kept.push(item);
  }
  return { kept, dropped: items.length - kept.length };
}
