/**
 * `share_submitted` → `shares`, plus everything derived from *new* shares in the same statement:
 * the hourly roll-up, the weekly best, the all-time bests and workers.last_share_at.
 *
 * One INSERT … ON CONFLICT (event_id, ts) DO NOTHING RETURNING feeds data-modifying CTEs
 *: a replayed share returns no row, so it adds nothing to the counters.
 * Bucket and week boundaries are computed in UTC regardless of the session TimeZone.
 */
import type { MiningEvent } from "../../events/types.ts";
import type { Queryable } from "../queryable.ts";
import { columns, timestampText } from "../rows.ts";

const INSERT_SHARES = `
WITH t AS (
  SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                       $8::text[], $9::bool[], $10::text[], $11::float8[], $12::float8[], $13::text[], $14::int[],
                       $15::bool[], $16::text[])
    AS t(event_id, ts, source, region, instance, addr, worker, session_id, accepted, reject_reason,
         difficulty, share_difficulty, job_id, height, is_block, ip)
),
ins AS (
  INSERT INTO shares (event_id, ts, source, region, instance, user_id, worker_id, session_id, accepted,
                      reject_reason, difficulty, share_difficulty, job_id, height, is_block, ip)
  SELECT t.event_id, t.ts, t.source, t.region, t.instance, w.user_id, w.id, t.session_id, t.accepted,
         t.reject_reason, t.difficulty, t.share_difficulty, t.job_id, t.height, t.is_block, t.ip
  FROM t
  JOIN users u ON u.btc_address = t.addr
  JOIN workers w ON w.user_id = u.id AND w.worker_name = t.worker
  ON CONFLICT (event_id, ts) DO NOTHING
  RETURNING event_id, ts, user_id, worker_id, accepted, difficulty, share_difficulty
),
hourly AS (
  INSERT INTO shares_hourly AS h (bucket, user_id, worker_id, accepted_shares, rejected_shares, accepted_work, best_share_difficulty)
  SELECT date_trunc('hour', ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', user_id, worker_id,
         count(*) FILTER (WHERE accepted), count(*) FILTER (WHERE NOT accepted),
         coalesce(sum(difficulty) FILTER (WHERE accepted), 0), max(share_difficulty) FILTER (WHERE accepted)
  FROM ins GROUP BY 1, 2, 3
  ON CONFLICT (bucket, user_id, worker_id) DO UPDATE SET
    accepted_shares = h.accepted_shares + EXCLUDED.accepted_shares,
    rejected_shares = h.rejected_shares + EXCLUDED.rejected_shares,
    accepted_work = h.accepted_work + EXCLUDED.accepted_work,
    best_share_difficulty = GREATEST(h.best_share_difficulty, EXCLUDED.best_share_difficulty)
),
best AS (
  SELECT DISTINCT ON (user_id, week_start) user_id, week_start, share_difficulty, worker_id, ts, event_id
  FROM (SELECT *, date_trunc('week', ts AT TIME ZONE 'UTC')::date AS week_start FROM ins WHERE accepted) s
  ORDER BY user_id, week_start, share_difficulty DESC, ts
),
weekly AS (
  INSERT INTO weekly_best_diff AS b (user_id, week_start, best_difficulty, worker_id, achieved_at, event_id)
  SELECT user_id, week_start, share_difficulty, worker_id, ts, event_id FROM best
  ON CONFLICT (user_id, week_start) DO UPDATE SET
    best_difficulty = EXCLUDED.best_difficulty, worker_id = EXCLUDED.worker_id,
    achieved_at = EXCLUDED.achieved_at, event_id = EXCLUDED.event_id
  WHERE EXCLUDED.best_difficulty > b.best_difficulty
),
user_best AS (
  UPDATE users u SET best_difficulty = s.best, best_difficulty_at = s.ts
  FROM (SELECT DISTINCT ON (user_id) user_id, share_difficulty AS best, ts FROM best
        ORDER BY user_id, share_difficulty DESC, ts) s
  WHERE u.id = s.user_id AND (u.best_difficulty IS NULL OR u.best_difficulty < s.best)
),
worker_last AS (
  UPDATE workers w SET
    last_share_at = GREATEST(w.last_share_at, s.last_ts),
    best_difficulty = GREATEST(w.best_difficulty, s.best)
  FROM (SELECT worker_id, max(ts) AS last_ts, max(share_difficulty) FILTER (WHERE accepted) AS best
        FROM ins GROUP BY worker_id) s
  WHERE w.id = s.worker_id
)
SELECT event_id::text AS event_id FROM ins`;

/** Inserts share events (already de-duplicated by event_id within the batch); returns the new event ids. */
export async function insertShares(tx: Queryable, events: ReadonlyArray<MiningEvent<"share_submitted">>): Promise<Set<string>> {
  if (events.length === 0) return new Set();
  const params = columns(events, [
    (e) => e.event_id,
    (e) => timestampText(e.timestamp),
    (e) => e.source,
    (e) => e.region,
    (e) => e.instance,
    (e) => e.data.user,
    (e) => e.data.worker,
    (e) => e.data.session_id,
    (e) => e.data.accepted,
    (e) => e.data.reject_reason,
    (e) => e.data.difficulty,
    (e) => e.data.share_difficulty,
    (e) => e.data.job_id,
    (e) => e.data.height,
    (e) => e.data.block,
    (e) => e.data.ip,
  ]);
  const res = await tx.query<{ event_id: string }>(INSERT_SHARES, params);
  return new Set(res.rows.map((r) => r.event_id));
}
