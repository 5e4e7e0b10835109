/**
 * Every event type except shares. `event_log` is the de-duplication authority for them: the batch is
 * inserted there first (ON CONFLICT (event_id, ts) DO NOTHING RETURNING), and only the events it
 * returned are routed to their tables. State columns ("latest wins") compare event times, so events
 * applied out of order cannot move state backwards.
 */
import type { EventType, MiningEvent } from "../../events/types.ts";
import type { Queryable } from "../queryable.ts";
import { columns, timestampText } from "../rows.ts";

type Ev<T extends EventType> = MiningEvent<T>;

const ts = (e: MiningEvent) => timestampText(e.timestamp);
/** `unnest` of the envelope columns shared by most statements: $1 event_id … $5 instance. */
const ENVELOPE = (e: MiningEvent) => [e.event_id, ts(e), e.source, e.region, e.instance];
const envelopeGetters: Array<(e: MiningEvent) => unknown> = [0, 1, 2, 3, 4].map((i) => (e: MiningEvent) => ENVELOPE(e)[i]);

/** Inserts into event_log; returns the ids that were new. */
export async function insertEventLog(tx: Queryable, events: readonly MiningEvent[]): Promise<Set<string>> {
  if (events.length === 0) return new Set();
  const res = await tx.query<{ event_id: string }>(
    `INSERT INTO event_log (event_id, ts, source, region, instance, event, data)
     SELECT i, t, s, r, n, ev, d::jsonb
     FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) AS x(i, t, s, r, n, ev, d)
     ON CONFLICT (event_id, ts) DO NOTHING
     RETURNING event_id::text AS event_id`,
    columns(events, [...envelopeGetters, (e) => e.event, (e) => JSON.stringify(e.data)]),
  );
  return new Set(res.rows.map((r) => r.event_id));
}

async function blocksFound(tx: Queryable, ev: Array<Ev<"block_found">>): Promise<void> {
  await tx.query(
    `INSERT INTO blocks (event_id, found_at, source, region, instance, block_hash, height, user_id, worker_id,
                         reward_sats, coinbase_signature, accepted, submit_results, share_difficulty,
                         network_difficulty, status)
     SELECT x.i, x.t, x.s, x.r, x.n, x.hash, x.height, u.id, w.id, x.reward, x.sig, x.ok, x.res::jsonb, x.sd, x.nd,
            CASE WHEN x.ok THEN 'submitted' ELSE 'rejected' END
     FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                 $8::text[], $9::int[], $10::bigint[], $11::text[], $12::bool[], $13::text[], $14::float8[], $15::float8[])
       AS x(i, t, s, r, n, addr, worker, hash, height, reward, sig, ok, res, sd, nd)
     JOIN users u ON u.btc_address = x.addr
     LEFT JOIN workers w ON w.user_id = u.id AND w.worker_name = x.worker
     ON CONFLICT DO NOTHING`,
    columns(ev, [...envelopeGetters, (e) => e.data.user, (e) => e.data.worker, (e) => e.data.hash, (e) => e.data.height,
      (e) => e.data.reward_sats, (e) => e.data.coinbase_signature, (e) => e.data.accepted,
      (e) => JSON.stringify(e.data.submit_results), (e) => e.data.share_difficulty, (e) => e.data.network_difficulty]),
  );
}

async function bestDiffs(tx: Queryable, ev: Array<Ev<"share_best_diff">>): Promise<void> {
  await tx.query(
    `WITH x AS (
       SELECT x.*, u.id AS user_id, w.id AS worker_id,
              CASE WHEN x.scope = 'week' THEN coalesce(to_date(x.week, 'IYYY-"W"IW'), date_trunc('week', x.t AT TIME ZONE 'UTC')::date) END AS week_start
       FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                   $8::text[], $9::float8[], $10::float8[], $11::text[], $12::int[])
         AS x(i, t, s, r, n, addr, worker, scope, old_best, new_best, week, height)
       JOIN users u ON u.btc_address = x.addr
       LEFT JOIN workers w ON w.user_id = u.id AND w.worker_name = x.worker
     ),
     hist AS (
       INSERT INTO best_diff_records (event_id, ts, region, instance, user_id, worker_id, scope, week_start, old_best, new_best, height)
       SELECT i, t, r, n, user_id, worker_id, scope, week_start, old_best, new_best, height FROM x
       ON CONFLICT DO NOTHING
     ),
     weekly AS (
       INSERT INTO weekly_best_diff AS b (user_id, week_start, best_difficulty, worker_id, achieved_at, event_id)
       SELECT DISTINCT ON (user_id, week_start) user_id, week_start, new_best, worker_id, t, i
       FROM x WHERE scope = 'week' ORDER BY user_id, week_start, new_best DESC, t
       ON CONFLICT (user_id, week_start) DO UPDATE SET
         best_difficulty = EXCLUDED.best_difficulty, worker_id = EXCLUDED.worker_id,
         achieved_at = EXCLUDED.achieved_at, event_id = EXCLUDED.event_id
       WHERE EXCLUDED.best_difficulty > b.best_difficulty
     )
     UPDATE users u SET best_difficulty = s.best, best_difficulty_at = s.t
     FROM (SELECT DISTINCT ON (user_id) user_id, new_best AS best, t FROM x WHERE scope = 'alltime'
           ORDER BY user_id, new_best DESC, t) s
     WHERE u.id = s.user_id AND (u.best_difficulty IS NULL OR u.best_difficulty < s.best)`,
    columns(ev, [...envelopeGetters, (e) => e.data.user, (e) => e.data.worker, (e) => e.data.scope, (e) => e.data.old_best,
      (e) => e.data.new_best, (e) => e.data.week, (e) => e.data.height]),
  );
}

async function connects(tx: Queryable, ev: Array<Ev<"miner_connected">>): Promise<void> {
  await tx.query(
    `WITH x AS (
       SELECT x.*, u.id AS user_id, w.id AS worker_id
       FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                   $8::text[], $9::text[], $10::text[], $11::text[], $12::float8[])
         AS x(i, t, s, r, n, addr, worker, session_id, ip, ua, en1, difficulty)
       JOIN users u ON u.btc_address = x.addr
       JOIN workers w ON w.user_id = u.id AND w.worker_name = x.worker
     ),
     -- A disconnect stored before its connect (out-of-order delivery) is completed, not duplicated.
     merged AS (
       UPDATE miner_sessions m SET connect_event_id = x.i, connected_at = x.t, user_id = x.user_id,
         worker_id = x.worker_id, ip = x.ip, user_agent = x.ua, extranonce1 = x.en1, start_difficulty = x.difficulty
       FROM x
       WHERE m.connect_event_id IS NULL AND m.instance = x.n AND m.session_id = x.session_id AND m.disconnected_at >= x.t
       RETURNING x.i
     ),
     ins AS (
       INSERT INTO miner_sessions (connect_event_id, region, instance, session_id, user_id, worker_id, ip, user_agent,
                                   extranonce1, start_difficulty, connected_at)
       SELECT i, r, n, session_id, user_id, worker_id, ip, ua, en1, difficulty, t FROM x
       WHERE i NOT IN (SELECT i FROM merged)
       ON CONFLICT DO NOTHING
     )
     UPDATE workers w SET is_online = true, online_changed_at = s.t,
       current_difficulty = CASE WHEN w.difficulty_changed_at IS NULL OR w.difficulty_changed_at <= s.t THEN s.difficulty ELSE w.current_difficulty END,
       difficulty_changed_at = GREATEST(w.difficulty_changed_at, s.t)
     FROM (SELECT DISTINCT ON (worker_id) worker_id, t, difficulty FROM x ORDER BY worker_id, t DESC) s
     WHERE w.id = s.worker_id AND (w.online_changed_at IS NULL OR w.online_changed_at <= s.t)`,
    columns(ev, [...envelopeGetters, (e) => e.data.user, (e) => e.data.worker, (e) => e.data.session_id, (e) => e.data.ip,
      (e) => e.data.user_agent, (e) => e.data.extranonce1, (e) => e.data.difficulty]),
  );
}

async function disconnects(tx: Queryable, ev: Array<Ev<"miner_disconnected">>): Promise<void> {
  await tx.query(
    `WITH x AS (
       SELECT x.*, u.id AS user_id, w.id AS worker_id
       FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                   $8::text[], $9::text[], $10::text[], $11::float8[], $12::bigint[], $13::bigint[], $14::float8[])
         AS x(i, t, s, r, n, addr, worker, session_id, ip, reason, secs, acc, rej, best)
       LEFT JOIN users u ON u.btc_address = x.addr
       LEFT JOIN workers w ON w.user_id = u.id AND w.worker_name = x.worker
     ),
     upd AS (
       UPDATE miner_sessions m SET disconnect_event_id = x.i, disconnected_at = x.t, disconnect_reason = x.reason,
         session_seconds = x.secs, shares_accepted = x.acc, shares_rejected = x.rej, session_best = x.best
       FROM x
       WHERE m.id = (SELECT m2.id FROM miner_sessions m2
                     WHERE m2.instance = x.n AND m2.session_id = x.session_id AND m2.disconnect_event_id IS NULL
                       AND m2.connected_at <= x.t
                     ORDER BY m2.connected_at DESC LIMIT 1)
       RETURNING x.i
     ),
     ins AS (
       INSERT INTO miner_sessions (disconnect_event_id, region, instance, session_id, user_id, worker_id, ip,
                                   disconnected_at, disconnect_reason, session_seconds, shares_accepted,
                                   shares_rejected, session_best)
       SELECT i, r, n, session_id, user_id, worker_id, ip, t, reason, secs, acc, rej, best FROM x
       WHERE i NOT IN (SELECT i FROM upd)
       ON CONFLICT DO NOTHING
     )
     UPDATE workers w SET is_online = false, online_changed_at = s.t
     FROM (SELECT DISTINCT ON (worker_id) worker_id, t FROM x WHERE worker_id IS NOT NULL ORDER BY worker_id, t DESC) s
     WHERE w.id = s.worker_id AND (w.online_changed_at IS NULL OR w.online_changed_at <= s.t)`,
    columns(ev, [...envelopeGetters, (e) => e.data.user, (e) => e.data.worker, (e) => e.data.session_id, (e) => e.data.ip,
      (e) => e.data.reason, (e) => e.data.session_seconds, (e) => e.data.shares_accepted, (e) => e.data.shares_rejected,
      (e) => e.data.session_best]),
  );
}

async function diffUpdates(tx: Queryable, ev: Array<Ev<"diff_updated">>): Promise<void> {
  await tx.query(
    `UPDATE workers w SET current_difficulty = s.d, difficulty_changed_at = s.t
     FROM (SELECT DISTINCT ON (w2.id) w2.id, x.t, x.d
           FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::float8[]) AS x(t, addr, worker, d)
           JOIN users u ON u.btc_address = x.addr
           JOIN workers w2 ON w2.user_id = u.id AND w2.worker_name = x.worker
           ORDER BY w2.id, x.t DESC) s
     WHERE w.id = s.id AND (w.difficulty_changed_at IS NULL OR w.difficulty_changed_at <= s.t)`,
    columns(ev, [ts, (e) => e.data.user, (e) => e.data.worker, (e) => e.data.new_difficulty]),
  );
}

async function hashrates(tx: Queryable, ev: Array<Ev<"hashrate_update">>): Promise<void> {
  const params = (list: Array<Ev<"hashrate_update">>) => columns(list, [ts, (e) => e.data.user, (e) => e.data.worker ?? "",
    (e) => e.data.hashrate_hs["1m"], (e) => e.data.hashrate_hs["5m"], (e) => e.data.hashrate_hs["1h"],
    (e) => e.data.hashrate_hs["1d"], (e) => e.data.hashrate_hs["7d"]]);
  const src = `FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::float8[], $5::float8[], $6::float8[], $7::float8[], $8::float8[])
               AS x(t, addr, worker, h1m, h5m, h1h, h1d, h7d)`;
  const set = `hashrate_1m = s.h1m, hashrate_5m = s.h5m, hashrate_1h = s.h1h, hashrate_1d = s.h1d, hashrate_7d = s.h7d, hashrate_at = s.t`;
  const perWorker = ev.filter((e) => e.data.worker !== null);
  const perUser = ev.filter((e) => e.data.worker === null);
  if (perWorker.length > 0) {
    await tx.query(
      `UPDATE workers w SET ${set}
       FROM (SELECT DISTINCT ON (w2.id) w2.id, x.* ${src}
             JOIN users u ON u.btc_address = x.addr JOIN workers w2 ON w2.user_id = u.id AND w2.worker_name = x.worker
             ORDER BY w2.id, x.t DESC) s
       WHERE w.id = s.id AND (w.hashrate_at IS NULL OR w.hashrate_at <= s.t)`,
      params(perWorker),
    );
  }
  if (perUser.length > 0) {
    await tx.query(
      `UPDATE users u SET ${set}
       FROM (SELECT DISTINCT ON (u2.id) u2.id, x.* ${src} JOIN users u2 ON u2.btc_address = x.addr ORDER BY u2.id, x.t DESC) s
       WHERE u.id = s.id AND (u.hashrate_at IS NULL OR u.hashrate_at <= s.t)`,
      params(perUser),
    );
  }
}

async function networkBlocks(tx: Queryable, ev: Array<Ev<"new_block_network">>): Promise<void> {
  await tx.query(
    `INSERT INTO network_blocks (event_id, seen_at, region, instance, block_hash, height, prev_hash, via, first_seen_endpoint)
     SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::text[], $9::text[])
     ON CONFLICT DO NOTHING`,
    columns(ev, [(e) => e.event_id, ts, (e) => e.region, (e) => e.instance, (e) => e.data.hash, (e) => e.data.height,
      (e) => e.data.prev_hash, (e) => e.data.source, (e) => e.data.first_seen_endpoint]),
  );
}

async function relayStates(tx: Queryable, ev: Array<Ev<"relay_state">>): Promise<void> {
  await tx.query(
    `INSERT INTO relay_states AS s (event_id, changed_at, region, instance, state, previous, reason)
     SELECT DISTINCT ON (r, n) * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
       AS x(i, t, r, n, st, prev, reason)
     ORDER BY r, n, t DESC
     ON CONFLICT (region, instance) DO UPDATE SET event_id = EXCLUDED.event_id, changed_at = EXCLUDED.changed_at,
       state = EXCLUDED.state, previous = EXCLUDED.previous, reason = EXCLUDED.reason
     WHERE s.changed_at <= EXCLUDED.changed_at`,
    columns(ev, [(e) => e.event_id, ts, (e) => e.region, (e) => e.instance, (e) => e.data.state, (e) => e.data.previous, (e) => e.data.reason]),
  );
}

/**
 * Routes new (already de-duplicated through event_log) non-share events to their tables, in an order
 * where dependencies come first (connects before disconnects).
 */
export async function applyStateEvents(tx: Queryable, fresh: readonly MiningEvent[]): Promise<void> {
  const by = <T extends EventType>(type: T) =>
    fresh.filter((e): e is Ev<T> => e.event === type).sort((a, b) => a.timestamp - b.timestamp);
  const steps: Array<[unknown[], (list: never[]) => Promise<void>]> = [
    [by("block_found"), (l) => blocksFound(tx, l)],
    [by("share_best_diff"), (l) => bestDiffs(tx, l)],
    [by("miner_connected"), (l) => connects(tx, l)],
    [by("miner_disconnected"), (l) => disconnects(tx, l)],
    [by("diff_updated"), (l) => diffUpdates(tx, l)],
    [by("hashrate_update"), (l) => hashrates(tx, l)],
    [by("new_block_network"), (l) => networkBlocks(tx, l)],
    [by("relay_state"), (l) => relayStates(tx, l)],
  ];
  for (const [list, run] of steps) if (list.length > 0) await run(list as never[]);
}
