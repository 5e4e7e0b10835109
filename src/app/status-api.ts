/**
 * The pool status API (`GET /api/status` on the health port): its JSON shape as a zod schema, the one
 * definition the builder (./status-snapshot.ts) is typed by, the tests validate live answers against,
 * and docs/status.md describes field by field. Objects are strict: a field added here without a doc
 * line fails the docs test; a field the builder adds without a schema line fails the type-check.
 */
import { z } from "zod";

const iso = z.string().datetime({ offset: true });
const windows3 = z.strictObject({ "1m": z.number().min(0), "5m": z.number().min(0), "1h": z.number().min(0) });
const windows5 = z.strictObject({ "1m": z.number().min(0), "5m": z.number().min(0), "1h": z.number().min(0), "1d": z.number().min(0), "7d": z.number().min(0) });

/** One connected miner (a Stratum connection). */
export const MinerRowSchema = z.strictObject({
  session_id: z.string(),
  /** Payout address as `health.address_display` allows; null before authorisation. */
  address: z.string().nullable(),
  worker: z.string().nullable(),
  user_agent: z.string().nullable(),
  difficulty: z.number().min(0),
  hashrate_hs: windows3,
  last_share_at: iso.nullable(),
  best_difficulty: z.number().min(0),
  shares_accepted: z.number().int().min(0),
  shares_rejected: z.number().int().min(0),
  connected_at: iso,
});

const RecordRowSchema = z.strictObject({ address: z.string(), worker: z.string(), difficulty: z.number().positive(), at: iso.nullable() });

/** A block found by this instance since it started. */
export const BlockRowSchema = z.strictObject({
  height: z.number().int().min(0),
  hash: z.string(),
  address: z.string().nullable(),
  worker: z.string().nullable(),
  accepted: z.boolean(),
  found_at: iso,
  reward_sats: z.number().min(0),
  share_difficulty: z.number().min(0),
  network_difficulty: z.number().min(0),
  results: z.array(z.strictObject({ node: z.string(), accepted: z.boolean(), result: z.string().nullable(), latency_ms: z.number().min(0) })),
});

/** `GET /api/status`. */
export const PoolStatusSchema = z.strictObject({
  api_version: z.literal(1),
  generated_at: iso,
  pool: z.strictObject({
    status: z.enum(["ok", "degraded"]),
    problems: z.array(z.string()),
    region: z.string(),
    instance: z.string(),
    network: z.string().nullable(),
    mode: z.enum(["primary", "passthrough"]),
    started_at: iso,
    uptime_seconds: z.number().min(0),
    address_display: z.enum(["full", "short", "hidden"]),
  }),
  totals: z.strictObject({
    connections: z.number().int().min(0),
    workers: z.number().int().min(0),
    users: z.number().int().min(0),
    hashrate_hs: windows5,
    shares_per_second: z.number().min(0),
    shares_accepted: z.number().int().min(0),
    shares_rejected: z.number().int().min(0),
    blocks_found: z.number().int().min(0),
    blocks_accepted: z.number().int().min(0),
  }),
  /** Rejected shares since start by reason (only reasons seen). */
  rejects: z.record(z.string(), z.number().int().min(0)),
  miners: z.strictObject({ total: z.number().int().min(0), rows: z.array(MinerRowSchema) }),
  best: z.strictObject({
    week: z.string(),
    session: z.array(RecordRowSchema),
    this_week: z.array(RecordRowSchema),
    all_time: z.array(RecordRowSchema),
  }),
  blocks: z.array(BlockRowSchema),
  template: z.strictObject({ height: z.number().int(), age_seconds: z.number().min(0), node: z.string(), transactions: z.number().int().min(0) }).nullable(),
  nodes: z.array(z.strictObject({ name: z.string(), healthy: z.boolean(), active: z.boolean(), last_error: z.string().nullable(), last_ok_seconds_ago: z.number().nullable(), templates_served: z.number().int().min(0), failures: z.number().int().min(0) })),
  zmq: z.array(z.looseObject({ endpoint: z.string(), healthy: z.boolean() })).nullable(),
  events: z.strictObject({
    enabled: z.boolean(),
    emitted: z.number().int().min(0),
    queued: z.number().int().min(0),
    dropped: z.number().int().min(0),
    sinks: z.array(z.strictObject({ name: z.string(), state: z.string(), sent: z.number().int().min(0), queued: z.number().int().min(0) })),
  }),
  relay: z.unknown(),
});

export type PoolStatus = z.infer<typeof PoolStatusSchema>;
export type MinerRow = z.infer<typeof MinerRowSchema>;
export type BlockRow = z.infer<typeof BlockRowSchema>;

/** Limits of the lists in {@link PoolStatus}. */
export const STATUS_LIMITS = {
  /** Miner rows by default (`?miners=N` up to `maxMiners`); `miners.total` counts them all. */
  miners: 200,
  maxMiners: 5_000,
  /** Rows per best-difficulty board. */
  records: 10,
  /** Blocks kept since start. */
  blocks: 50,
} as const;
