/**
 * Read side for the collector's platform page (`/api/platform`): regions, the weekly best-difficulty
 * leaderboard, recent blocks, totals. Plain SQL over the {@link Queryable} port, so it runs on PostgreSQL
 * and PGlite alike; every count is cast to int/float8 so both drivers return JS numbers. Each query is
 * bounded: by LIMIT, by an indexed time window (`shares`, `event_log` have BRIN indexes on `ts`), or by a
 * small table (users, workers, blocks). The collector caches the result for a few seconds.
 */
import type { Queryable } from "./queryable.ts";

/** One region as the database sees it. */
export interface RegionRow {
  region: string;
  /** Instances that sent an event since `eventsSince`. */
  instances: number;
  workersOnline: number;
  usersOnline: number;
  /** Sum of the fresh online workers' 5-minute hashrate (from hashrate_update events), H/s: only rates updated since `freshSince`. */
  hashrateHs: number;
  /** Shares stored within the shares window. */
  shares: number;
  /** Newest event time (any type) within the window; null when none. */
  lastEventAt: Date | null;
  blocks: number;
}

export interface LeaderRow {
  address: string;
  worker: string | null;
  difficulty: number;
  achievedAt: Date;
}

export interface BlockListRow {
  height: number;
  hash: string;
  address: string;
  worker: string | null;
  region: string;
  instance: string;
  foundAt: Date;
  accepted: boolean;
  status: string;
  rewardSats: number;
  confirmations: number;
}

export interface PlatformTotals {
  users: number;
  workers: number;
  workersOnline: number;
  blocks: number;
  blocksAccepted: number;
}

/** An online worker heard of since parameter $N (a share, a hashrate update, or its connect). */
const freshOnline = (n: number) =>
  `is_online AND greatest(last_share_at, hashrate_at, online_changed_at) >= $${n}::timestamptz`;
const FRESH_ONLINE = freshOnline(3);

const date = (v: unknown): Date | null => (v === null || v === undefined ? null : new Date(v as string | Date));

/**
 * Regions seen within `sinceMs` (events, shares since `sharesSinceMs`) or with workers/blocks on record.
 * `workersOnline` counts workers whose last connect/disconnect was a connect AND that were heard of (a share,
 * a hashrate update, a connect) since `freshSince`, in the region they were last seen: a pool that died
 * without sending disconnects leaves `is_online` set, and its workers must drop off within that window.
 * `hashrateHs` sums only hashrates updated since `freshSince` (the pool sends one a minute per active worker).
 */
export async function loadRegions(db: Queryable, opts: { eventsSince: Date; sharesSince: Date; freshSince: Date }): Promise<RegionRow[]> {
  const res = await db.query<{ region: string; instances: number; workers_online: number; users_online: number; hashrate: number; shares: number; last_event_at: unknown; blocks: number }>(
    `WITH w AS (
       SELECT region, count(*) FILTER (WHERE ${FRESH_ONLINE})::int AS workers_online,
              count(DISTINCT user_id) FILTER (WHERE ${FRESH_ONLINE})::int AS users_online,
              coalesce(sum(hashrate_5m) FILTER (WHERE is_online AND hashrate_at >= $3::timestamptz), 0)::float8 AS hashrate
       FROM workers WHERE region IS NOT NULL GROUP BY region),
     e AS (SELECT region, count(DISTINCT instance)::int AS instances, max(ts) AS last_event_at FROM event_log WHERE ts >= $1 GROUP BY region),
     s AS (SELECT region, count(*)::int AS shares, max(ts) AS last_share_at FROM shares WHERE ts >= $2 GROUP BY region),
     b AS (SELECT region, count(*)::int AS blocks FROM blocks GROUP BY region),
     r AS (SELECT region FROM w UNION SELECT region FROM e UNION SELECT region FROM s UNION SELECT region FROM b)
     SELECT r.region, coalesce(e.instances, 0) AS instances, coalesce(w.workers_online, 0) AS workers_online,
            coalesce(w.users_online, 0) AS users_online, coalesce(w.hashrate, 0) AS hashrate, coalesce(s.shares, 0) AS shares,
            greatest(e.last_event_at, s.last_share_at) AS last_event_at, coalesce(b.blocks, 0) AS blocks
     FROM r LEFT JOIN w USING (region) LEFT JOIN e USING (region) LEFT JOIN s USING (region) LEFT JOIN b USING (region)
     ORDER BY r.region`,
    [opts.eventsSince.toISOString(), opts.sharesSince.toISOString(), opts.freshSince.toISOString()],
  );
  return res.rows.map((r) => ({
    region: r.region, instances: r.instances, workersOnline: r.workers_online, usersOnline: r.users_online, hashrateHs: r.hashrate,
    shares: r.shares, lastEventAt: date(r.last_event_at), blocks: r.blocks,
  }));
}

/** Best share difficulty per user in the ISO week starting `weekStart` (`YYYY-MM-DD`, a Monday), best first. */
export async function loadWeeklyLeaderboard(db: Queryable, weekStart: string, limit: number): Promise<LeaderRow[]> {
  const res = await db.query<{ address: string; worker: string | null; difficulty: number; achieved_at: unknown }>(
    `SELECT u.btc_address AS address, w.worker_name AS worker, b.best_difficulty::float8 AS difficulty, b.achieved_at
     FROM weekly_best_diff b JOIN users u ON u.id = b.user_id LEFT JOIN workers w ON w.id = b.worker_id
     WHERE b.week_start = $1::date ORDER BY b.best_difficulty DESC, b.achieved_at LIMIT $2`,
    [weekStart, limit],
  );
  return res.rows.map((r) => ({ address: r.address, worker: r.worker, difficulty: r.difficulty, achievedAt: date(r.achieved_at)! }));
}

/** The newest blocks found on the platform. */
export async function loadRecentBlocks(db: Queryable, limit: number): Promise<BlockListRow[]> {
  const res = await db.query<{ height: number; hash: string; address: string; worker: string | null; region: string; instance: string; found_at: unknown; accepted: boolean; status: string; reward_sats: number; confirmations: number }>(
    `SELECT b.height, b.block_hash AS hash, u.btc_address AS address, w.worker_name AS worker, b.region, b.instance, b.found_at,
            b.accepted, b.status, b.reward_sats::float8 AS reward_sats, b.confirmations
     FROM blocks b JOIN users u ON u.id = b.user_id LEFT JOIN workers w ON w.id = b.worker_id
     ORDER BY b.found_at DESC, b.height DESC LIMIT $1`,
    [limit],
  );
  return res.rows.map((r) => ({
    height: r.height, hash: r.hash, address: r.address, worker: r.worker, region: r.region, instance: r.instance, foundAt: date(r.found_at)!,
    accepted: r.accepted, status: r.status, rewardSats: r.reward_sats, confirmations: r.confirmations,
  }));
}

/** Users, workers (and online ones, fresh as in {@link loadRegions}), blocks (and accepted ones) on record. */
export async function loadPlatformTotals(db: Queryable, opts: { freshSince: Date }): Promise<PlatformTotals> {
  const res = await db.query<{ users: number; workers: number; workers_online: number; blocks: number; blocks_accepted: number }>(
    `SELECT (SELECT count(*) FROM users)::int AS users, (SELECT count(*) FROM workers)::int AS workers,
            (SELECT count(*) FROM workers WHERE ${freshOnline(1)})::int AS workers_online,
            (SELECT count(*) FROM blocks)::int AS blocks, (SELECT count(*) FROM blocks WHERE accepted)::int AS blocks_accepted`,
    [opts.freshSince.toISOString()],
  );
  const r = res.rows[0];
  return { users: r.users, workers: r.workers, workersOnline: r.workers_online, blocks: r.blocks, blocksAccepted: r.blocks_accepted };
}
