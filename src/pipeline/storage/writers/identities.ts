/**
 * Upserts the `users` and `workers` every event of a batch refers to, before the rows that reference
 * them. Idempotent: first/last seen move only outward (LEAST/GREATEST), so replays change nothing.
 * Rows are sent in key order so concurrent writers lock them in the same order (no deadlocks).
 */
import type { MiningEvent } from "../../events/types.ts";
import type { Queryable } from "../queryable.ts";
import { timestampText } from "../rows.ts";

/** The (user, worker) an event is about, if any. `worker` null = user-level event. */
export function identityOf(e: MiningEvent): { user: string; worker: string | null } | undefined {
  switch (e.event) {
    case "share_submitted":
    case "share_best_diff":
    case "block_found":
    case "miner_connected":
    case "diff_updated":
      return { user: e.data.user, worker: e.data.worker };
    case "miner_disconnected":
      return e.data.user === null ? undefined : { user: e.data.user, worker: e.data.worker };
    case "hashrate_update":
      return { user: e.data.user, worker: e.data.worker };
    default:
      return undefined;
  }
}

interface Seen {
  first: number;
  last: number;
  source: string;
  region: string;
}

function widen(map: Map<string, Seen>, key: string, e: MiningEvent): void {
  const cur = map.get(key);
  if (!cur) {
    map.set(key, { first: e.timestamp, last: e.timestamp, source: e.source, region: e.region });
    return;
  }
  if (e.timestamp < cur.first) cur.first = e.timestamp;
  if (e.timestamp >= cur.last) {
    cur.last = e.timestamp;
    cur.region = e.region;
    cur.source = e.source;
  }
}

/** Upserts the batch's users and workers. */
export async function upsertIdentities(tx: Queryable, events: readonly MiningEvent[]): Promise<void> {
  const users = new Map<string, Seen>();
  const workers = new Map<string, Seen & { user: string; worker: string }>();
  for (const e of events) {
    const id = identityOf(e);
    if (!id) continue;
    widen(users, id.user, e);
    if (id.worker !== null) {
      const key = JSON.stringify([id.user, id.worker]);
      if (!workers.has(key)) workers.set(key, { first: e.timestamp, last: e.timestamp, source: e.source, region: e.region, user: id.user, worker: id.worker });
      widen(workers, key, e);
    }
  }
  if (users.size === 0) return;
  const u = [...users.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  await tx.query(
    // settings_updated_at = -infinity: a user created by its events has no settings to reload.
    `INSERT INTO users (btc_address, first_seen_at, last_seen_at, settings_updated_at)
     SELECT a, f, l, '-infinity' FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[]) AS t(a, f, l) ORDER BY a
     ON CONFLICT (btc_address) DO UPDATE SET
       first_seen_at = LEAST(users.first_seen_at, EXCLUDED.first_seen_at),
       last_seen_at  = GREATEST(users.last_seen_at, EXCLUDED.last_seen_at)
     WHERE users.first_seen_at > EXCLUDED.first_seen_at OR users.last_seen_at < EXCLUDED.last_seen_at`,
    [u.map(([a]) => a), u.map(([, s]) => timestampText(s.first)), u.map(([, s]) => timestampText(s.last))],
  );
  if (workers.size === 0) return;
  const w = [...workers.values()];
  await tx.query(
    `INSERT INTO workers (user_id, worker_name, source, region, first_seen_at, last_seen_at)
     SELECT u.id, t.w, t.s, t.r, t.f, t.l
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[]) AS t(a, w, s, r, f, l)
     JOIN users u ON u.btc_address = t.a
     ORDER BY u.id, t.w
     ON CONFLICT (user_id, worker_name) DO UPDATE SET
       first_seen_at = LEAST(workers.first_seen_at, EXCLUDED.first_seen_at),
       last_seen_at  = GREATEST(workers.last_seen_at, EXCLUDED.last_seen_at),
       region = CASE WHEN EXCLUDED.last_seen_at > workers.last_seen_at THEN EXCLUDED.region ELSE workers.region END
     WHERE workers.first_seen_at > EXCLUDED.first_seen_at OR workers.last_seen_at < EXCLUDED.last_seen_at`,
    [w.map((x) => x.user), w.map((x) => x.worker), w.map((x) => x.source), w.map((x) => x.region),
      w.map((x) => timestampText(x.first)), w.map((x) => timestampText(x.last))],
  );
}
