/**
 * The database side of the collector: `EventStore.writeBatch(events)` stores a batch of validated
 * events in ONE transaction and reports which were new. The database is the de-duplication authority
 *: shares collide on PRIMARY KEY (event_id, ts), every other type on event_log's key, with
 * `ts` from the event itself. Retrying a batch after any failure is therefore always safe.
 *
 * `PgEventStore` (pg Pool → PostgreSQL/TimescaleDB) and `PgliteEventStore` (embedded) share all SQL
 * through the {@link Database} port; they differ only in how the database is opened.
 */
import type { MiningEvent } from "../events/types.ts";
import { classifyStoreError, StoreClosedError } from "./errors.ts";
import { migrate, type MigrateOptions, type MigrationReport } from "./migrate.ts";
import { openPglite, openPostgres, type Database, type PgliteOpenOptions, type PostgresOptions } from "./queryable.ts";
import { uniqueBy } from "./rows.ts";
import { upsertIdentities } from "./writers/identities.ts";
import { insertShares } from "./writers/shares.ts";
import { applyStateEvents, insertEventLog } from "./writers/state-events.ts";

/** Outcome of {@link EventStore.writeBatch}. `inserted + duplicates` = the batch length. */
export interface WriteResult {
  /** Events stored by this call. */
  inserted: number;
  /** Events already stored before (replays, redeliveries, repeats inside the batch). */
  duplicates: number;
  /** The stored events, in input order (what goes on to Redis). */
  insertedEvents: MiningEvent[];
}

/** Where committed events live. */
export interface EventStore {
  /**
   * Stores the batch in one transaction. Throws `StoreUnavailableError` (retry the same batch later)
   * or `StoreDataError` (some event's data is refused: split the batch to find it). Never partially
   * commits.
   */
  writeBatch(events: readonly MiningEvent[]): Promise<WriteResult>;
  /** Closes the connection(s). */
  close(): Promise<void>;
}

/** Options shared by both stores. */
export interface SqlEventStoreOptions {
  /** Apply migrations in `start()`. Default true. */
  migrate?: boolean | MigrateOptions;
}

/**
 * The store over any {@link Database}. Use {@link PgEventStore} or {@link PgliteEventStore}, or pass
 * your own Database (tests, a shared pool).
 */
export class SqlEventStore implements EventStore {
  private db: Database | undefined;
  /** Result of the migrations run by `start()`, if any. */
  migration: MigrationReport | undefined;

  constructor(
    private readonly open: () => Promise<Database>,
    private readonly opts: SqlEventStoreOptions = {},
  ) {}

  /** Opens the database and applies migrations (unless disabled). */
  async start(): Promise<void> {
    if (this.db) return;
    const db = await this.open();
    try {
      if (this.opts.migrate !== false) this.migration = await migrate(db, this.opts.migrate === true || this.opts.migrate === undefined ? {} : this.opts.migrate);
    } catch (err) {
      await db.close().catch(() => {});
      throw err;
    }
    this.db = db;
  }

  /** The underlying database (for queries outside the write path). */
  get database(): Database {
    if (!this.db) throw new StoreClosedError();
    return this.db;
  }

  async writeBatch(events: readonly MiningEvent[]): Promise<WriteResult> {
    const db = this.database;
    if (events.length === 0) return { inserted: 0, duplicates: 0, insertedEvents: [] };
    const { kept } = uniqueBy(events, (e) => e.event_id.toLowerCase());
    const shares = kept.filter((e): e is MiningEvent<"share_submitted"> => e.event === "share_submitted");
    const others = kept.filter((e) => e.event !== "share_submitted");
    let fresh: Set<string>;
    try {
      fresh = await db.transaction(async (tx) => {
        await upsertIdentities(tx, kept);
        const newShares = await insertShares(tx, shares);
        const newOthers = await insertEventLog(tx, others);
        await applyStateEvents(tx, others.filter((e) => newOthers.has(e.event_id.toLowerCase())));
        for (const id of newOthers) newShares.add(id);
        return newShares;
      });
    } catch (err) {
      throw classifyStoreError(err);
    }
    const insertedEvents = kept.filter((e) => fresh.has(e.event_id.toLowerCase()));
    return { inserted: insertedEvents.length, duplicates: events.length - insertedEvents.length, insertedEvents };
  }

  async close(): Promise<void> {
    const db = this.db;
    this.db = undefined;
    await db?.close();
  }
}

/** PostgreSQL (or TimescaleDB) through a `pg` Pool. */
export class PgEventStore extends SqlEventStore {
  constructor(opts: PostgresOptions & SqlEventStoreOptions) {
    super(async () => openPostgres(opts), opts);
  }
}

/** Embedded PostgreSQL (PGlite), persistent under `dataDir` (in memory without it). */
export class PgliteEventStore extends SqlEventStore {
  constructor(opts: PgliteOpenOptions & SqlEventStoreOptions = {}) {
    super(() => openPglite(opts), opts);
  }
}
