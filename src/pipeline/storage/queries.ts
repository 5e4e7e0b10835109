/**
 * Read side for the engine and tools: what the engine loads at start from the database (per-user
 * coinbase signatures; persisted best difficulties). Plain SQL over the
 * {@link Queryable} port, so it works on PostgreSQL and PGlite alike.
 */
import type { Queryable } from "./queryable.ts";

/** One user's coinbase signature setting. */
export interface UserSignature {
  /** Payout address (the events' `user`). */
  address: string;
  /** The text, or null when the user cleared it (fall back to the pool's btcsig). */
  signature: string | null;
  /** When the setting last changed (cursor for incremental reloads). */
  updatedAt: Date;
}

/**
 * Coinbase signatures of users whose settings changed after `since` (all users with a signature when
 * omitted). Poll with the largest `updatedAt` seen to pick up changes.
 */
export async function loadUserSignatures(db: Queryable, since?: Date): Promise<UserSignature[]> {
  const res = since
    ? await db.query<{ a: string; s: string | null; u: Date }>(
      "SELECT btc_address AS a, coinbase_signature AS s, settings_updated_at AS u FROM users WHERE settings_updated_at > $1 ORDER BY settings_updated_at",
      [since.toISOString()])
    : await db.query<{ a: string; s: string | null; u: Date }>(
      "SELECT btc_address AS a, coinbase_signature AS s, settings_updated_at AS u FROM users WHERE coinbase_signature IS NOT NULL ORDER BY settings_updated_at");
  return res.rows.map((r) => ({ address: r.a, signature: r.s, updatedAt: new Date(r.u) }));
}

/** Sets (or clears with null) a user's coinbase signature; creates the user row if needed. */
export async function setUserSignature(db: Queryable, address: string, signature: string | null): Promise<void> {
  await db.query(
    `INSERT INTO users (btc_address, coinbase_signature, first_seen_at, last_seen_at, settings_updated_at) VALUES ($1, $2, now(), now(), now())
     ON CONFLICT (btc_address) DO UPDATE SET coinbase_signature = EXCLUDED.coinbase_signature`,
    [address, signature],
  );
}

/** All-time best share difficulty per payout address. */
export async function loadAllTimeBests(db: Queryable): Promise<Map<string, number>> {
  const res = await db.query<{ a: string; b: number }>("SELECT btc_address AS a, best_difficulty AS b FROM users WHERE best_difficulty IS NOT NULL");
  return new Map(res.rows.map((r) => [r.a, r.b]));
}

/** Best share difficulty per payout address in the ISO week starting `weekStart` (a Monday, `YYYY-MM-DD`, UTC). */
export async function loadWeeklyBests(db: Queryable, weekStart: string): Promise<Map<string, number>> {
  const res = await db.query<{ a: string; b: number }>(
    "SELECT u.btc_address AS a, w.best_difficulty AS b FROM weekly_best_diff w JOIN users u ON u.id = w.user_id WHERE w.week_start = $1::date",
    [weekStart]);
  return new Map(res.rows.map((r) => [r.a, r.b]));
}
