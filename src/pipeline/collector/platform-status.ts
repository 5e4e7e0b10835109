/**
 * The collector's platform view (`GET /api/platform` and the page at `/` on its HTTP port): every
 * region, the weekly best-difficulty leaderboard, the newest blocks, online miners per region, and the
 * collector's own event throughput and lag. Read from the database (src/pipeline/storage/dashboard-queries.ts:
 * PostgreSQL and PGlite alike) plus the collector's counters. Built at most every `cacheMs` (and never
 * more often than ten times its own build time) however many viewers poll; concurrent requests share
 * one build. Online workers and their hashrate count only when heard of within the last 10 minutes. Addresses as `address_display` says; worker
 * names pass through {@link displaySafe}.
 */
import { performance } from "node:perf_hooks";
import { z } from "zod";
import type { Queryable } from "../storage/queryable.ts";
import { loadPlatformTotals, loadRecentBlocks, loadRegions, loadWeeklyLeaderboard } from "../storage/dashboard-queries.ts";
import { AddressMask, displaySafe } from "../../util/text.ts";
import { errorText } from "../../util/errors.ts";
import type { CollectorStats } from "./collector.ts";

const iso = z.string().datetime({ offset: true });

/** `GET /api/platform`. */
export const PlatformStatusSchema = z.strictObject({
  api_version: z.literal(1),
  generated_at: iso,
  collector: z.strictObject({
    region: z.string(),
    uptime_seconds: z.number().min(0),
    database: z.strictObject({ dialect: z.enum(["postgres", "pglite"]), open: z.boolean(), error: z.string().nullable() }),
    address_display: z.enum(["full", "short", "hidden"]),
  }),
  throughput: z.strictObject({
    events_per_second: z.number().min(0).nullable(),
    received: z.number().int().min(0),
    stored: z.number().int().min(0),
    duplicates: z.number().int().min(0),
    malformed: z.number().int().min(0),
    dropped: z.number().int().min(0),
    pending: z.number().int().min(0),
    lag_seconds: z.number().min(0),
    last_batch_ms: z.number().min(0),
  }),
  totals: z.strictObject({
    users: z.number().int().min(0),
    workers: z.number().int().min(0),
    workers_online: z.number().int().min(0),
    blocks: z.number().int().min(0),
    blocks_accepted: z.number().int().min(0),
  }),
  regions: z.array(z.strictObject({
    region: z.string(),
    instances: z.number().int().min(0),
    workers_online: z.number().int().min(0),
    users_online: z.number().int().min(0),
    hashrate_hs: z.number().min(0),
    shares_5m: z.number().int().min(0),
    last_event_at: iso.nullable(),
    blocks: z.number().int().min(0),
  })),
  leaderboard: z.strictObject({
    week_start: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
    rows: z.array(z.strictObject({ rank: z.number().int().min(1), address: z.string(), worker: z.string().nullable(), difficulty: z.number().min(0), achieved_at: iso })),
  }),
  blocks: z.array(z.strictObject({
    height: z.number().int().min(0),
    hash: z.string(),
    address: z.string(),
    worker: z.string().nullable(),
    region: z.string(),
    instance: z.string(),
    found_at: iso,
    accepted: z.boolean(),
    status: z.string(),
    reward_sats: z.number().min(0),
    confirmations: z.number().int(),
  })),
});
export type PlatformStatus = z.infer<typeof PlatformStatusSchema>;

/** Defaults of {@link PlatformStatusSource}. */
export const PLATFORM_STATUS_DEFAULTS = {
  /**
   * A built document is reused for at least this many ms, and for ten times as long as the last build
   * took: however slow the database, the page's queries take at most a tenth of its time.
   */
  cacheMs: 2_000,
  cacheFactor: 10,
  /** Totals (counts over users, workers, blocks) are reused this long, or until the newest blocks change. */
  totalsCacheMs: 30_000,
  leaderboardRows: 20,
  blockRows: 20,
  /** A region counts instances and its last event within this window. */
  eventsWindowMs: 300_000,
  /** Shares per region are counted over this window. */
  sharesWindowMs: 300_000,
  /** An online worker counts (and its hashrate is summed) only if heard of within this window. */
  freshWindowMs: 600_000,
  /** Throughput is measured over (at most) this window. */
  rateWindowMs: 60_000,
} as const;

/** `postgres://user:secret@host` → `postgres://host` wherever a URL appears in a message. */
const noUserinfo = (s: string) => s.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, "$1");

/** Monday (UTC) of the ISO week containing `ms`, `YYYY-MM-DD`. */
export function isoWeekStart(ms: number): string {
  const d = new Date(ms);
  const back = (d.getUTCDay() + 6) % 7;
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - back)).toISOString().slice(0, 10);
}

/** Options of {@link PlatformStatusSource}. */
export interface PlatformStatusOptions {
  /** The database once open, else null. */
  database: () => Queryable | null;
  stats: () => CollectorStats;
  mask: AddressMask;
  now?: () => number;
  cacheMs?: number;
}

/** Builds (and caches) the platform document. */
export class PlatformStatusSource {
  private readonly now: () => number;
  /** The last document and when it was built (monotonic clock: the injected one may stand still in tests). */
  private cache: { atMs: number; ttlMs: number; doc: PlatformStatus } | null = null;
  /** The totals, when read, and the newest blocks they were read with. */
  private totals: { atMs: number; blocksKey: string; value: PlatformStatus["totals"] } | null = null;
  /** Documents built (tests read it). */
  builds = 0;
  private inFlight: Promise<PlatformStatus> | null = null;
  /** (time, stored) samples for the throughput rate, oldest first. */
  private readonly samples: Array<{ atMs: number; stored: number }> = [];

  constructor(private readonly o: PlatformStatusOptions) {
    this.now = o.now ?? Date.now;
  }

  /** The current document (from cache when fresh). Never throws: a query failure is reported in `collector.database.error`. */
  async get(): Promise<PlatformStatus> {
    const t = performance.now();
    if (this.cache && t - this.cache.atMs < this.cache.ttlMs) return this.cache.doc;
    this.inFlight ??= this.build().finally(() => (this.inFlight = null));
    return this.inFlight;
  }

  private rate(nowMs: number, stored: number): number | null {
    this.samples.push({ atMs: nowMs, stored });
    const window = PLATFORM_STATUS_DEFAULTS.rateWindowMs;
    // Keep one sample at or before the window start as the base.
    while (this.samples.length > 2 && this.samples[1].atMs <= nowMs - window) this.samples.shift();
    const base = this.samples[0];
    const dt = (nowMs - base.atMs) / 1000;
    return dt >= 0.5 ? Math.max(0, (stored - base.stored) / dt) : null;
  }

  private async build(): Promise<PlatformStatus> {
    const startMs = performance.now();
    const nowMs = this.now();
    const s = this.o.stats();
    const mask = this.o.mask;
    const doc: PlatformStatus = {
      api_version: 1,
      generated_at: new Date(nowMs).toISOString(),
      collector: { region: s.region, uptime_seconds: Math.max(0, s.uptimeSeconds), database: { dialect: s.database.dialect, open: s.database.open, error: s.database.open || !s.database.lastError ? null : noUserinfo(s.database.lastError) }, address_display: mask.display },
      throughput: {
        events_per_second: this.rate(nowMs, s.batcher.stored),
        received: s.batcher.received,
        stored: s.batcher.stored,
        duplicates: s.batcher.duplicates,
        malformed: s.batcher.malformed,
        dropped: s.batcher.dropped,
        pending: s.batcher.pending,
        lag_seconds: Math.max(0, s.batcher.lagMs / 1000),
        last_batch_ms: Math.max(0, s.batcher.lastBatchMs),
      },
      totals: { users: 0, workers: 0, workers_online: 0, blocks: 0, blocks_accepted: 0 },
      regions: [],
      leaderboard: { week_start: isoWeekStart(nowMs), rows: [] },
      blocks: [],
    };
    const db = s.database.open ? this.o.database() : null;
    if (db) {
      try {
        const d = PLATFORM_STATUS_DEFAULTS;
        const regions = await loadRegions(db, { eventsSince: new Date(nowMs - d.eventsWindowMs), sharesSince: new Date(nowMs - d.sharesWindowMs), freshSince: new Date(nowMs - d.freshWindowMs) });
        const leaders = await loadWeeklyLeaderboard(db, doc.leaderboard.week_start, d.leaderboardRows);
        const blocks = await loadRecentBlocks(db, d.blockRows);
        const blocksKey = blocks.map((b) => `${b.hash}:${b.status}:${b.accepted}`).join(",");
        if (!this.totals || startMs - this.totals.atMs >= d.totalsCacheMs || this.totals.blocksKey !== blocksKey) {
          const totals = await loadPlatformTotals(db, { freshSince: new Date(nowMs - d.freshWindowMs) });
          this.totals = { atMs: startMs, blocksKey, value: { users: totals.users, workers: totals.workers, workers_online: totals.workersOnline, blocks: totals.blocks, blocks_accepted: totals.blocksAccepted } };
        }
        doc.totals = { ...this.totals.value };
        doc.regions = regions.map((r) => ({
          region: displaySafe(r.region, 64), instances: r.instances, workers_online: r.workersOnline, users_online: r.usersOnline,
          hashrate_hs: Math.max(0, r.hashrateHs), shares_5m: r.shares, last_event_at: r.lastEventAt?.toISOString() ?? null, blocks: r.blocks,
        }));
        doc.leaderboard.rows = leaders.map((r, i) => ({ rank: i + 1, address: mask.show(r.address), worker: r.worker === null ? null : displaySafe(r.worker), difficulty: Math.max(0, r.difficulty), achieved_at: r.achievedAt.toISOString() }));
        doc.blocks = blocks.map((b) => ({
          height: b.height, hash: displaySafe(b.hash, 64), address: mask.show(b.address), worker: b.worker === null ? null : displaySafe(b.worker),
          region: displaySafe(b.region, 64), instance: displaySafe(b.instance, 128), found_at: b.foundAt.toISOString(), accepted: b.accepted,
          status: displaySafe(b.status, 32), reward_sats: Math.max(0, b.rewardSats), confirmations: b.confirmations,
        }));
      } catch (err) {
        doc.collector.database.error = noUserinfo(`status query failed: ${errorText(err)}`);
      }
    }
    const endMs = performance.now();
    this.builds++;
    this.cache = { atMs: endMs, ttlMs: Math.max(this.o.cacheMs ?? PLATFORM_STATUS_DEFAULTS.cacheMs, (endMs - startMs) * PLATFORM_STATUS_DEFAULTS.cacheFactor), doc };
    return doc;
  }
}
