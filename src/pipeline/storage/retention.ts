/**
 * Raw-data retention on the plain-PostgreSQL path (PGlite, PostgreSQL without TimescaleDB): deletes
 * shares and event_log rows older than the horizon in small batches so no single statement holds
 * locks or bloats WAL for long. Roll-ups (shares_hourly,
 * weekly_best_diff), blocks and sessions are kept. With TimescaleDB the retention policies of
 * migrations/002_timescale.sql drop whole chunks instead and this is a no-op.
 *
 * Run it from a timer in the collector, e.g. hourly.
 */
import type { Queryable } from "./queryable.ts";

/** Options of {@link purgeExpired}; defaults per field. */
export interface RetentionOptions {
  /** Keep raw shares this many days. Default 90. */
  sharesDays?: number;
  /** Keep event_log rows this many days. Default 90. */
  eventLogDays?: number;
  /** Rows per DELETE. Default 10 000. */
  batchRows?: number;
  /** Most DELETE statements per table per call (bounds one run). Default 100. */
  maxBatches?: number;
  /** Clock, ms since epoch. Default `Date.now`. */
  now?: () => number;
}

/** What {@link purgeExpired} removed. */
export interface RetentionReport {
  shares: number;
  eventLog: number;
  /** True when TimescaleDB manages retention (nothing was deleted here). */
  timescale: boolean;
}

async function purgeTable(db: Queryable, table: "shares" | "event_log", cutoffIso: string, batchRows: number, maxBatches: number): Promise<number> {
  let total = 0;
  for (let i = 0; i < maxBatches; i++) {
    const res = await db.query(
      `DELETE FROM ${table} WHERE ctid IN (SELECT ctid FROM ${table} WHERE ts < $1::timestamptz LIMIT $2)`,
      [cutoffIso, batchRows],
    );
    total += res.rowCount;
    if (res.rowCount < batchRows) break;
  }
  return total;
}

/** Deletes raw rows past the horizon (see module comment). */
export async function purgeExpired(db: Queryable, opts: RetentionOptions = {}): Promise<RetentionReport> {
  const ts = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_extension WHERE extname = 'timescaledb'");
  if ((ts.rows[0]?.n ?? 0) > 0) return { shares: 0, eventLog: 0, timescale: true };
  const now = (opts.now ?? Date.now)();
  const day = 86_400_000;
  const batchRows = opts.batchRows ?? 10_000;
  const maxBatches = opts.maxBatches ?? 100;
  const shares = await purgeTable(db, "shares", new Date(now - (opts.sharesDays ?? 90) * day).toISOString(), batchRows, maxBatches);
  const eventLog = await purgeTable(db, "event_log", new Date(now - (opts.eventLogDays ?? 90) * day).toISOString(), batchRows, maxBatches);
  return { shares, eventLog, timescale: false };
}
