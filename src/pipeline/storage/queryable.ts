/**
 * The one database port the storage layer uses: `query(text, params)`,
 * `exec(multi-statement sql)` and `transaction(fn)`. Two adapters back it: a `pg` Pool (server mode,
 * PostgreSQL/TimescaleDB) and PGlite (embedded PostgreSQL in WASM for `tbg dev` and small pools).
 * Both return node-postgres-shaped results, so every SQL statement in src/pipeline/storage runs unchanged on either.
 */
import pg from "pg";
import type { PGlite, PGliteOptions, Transaction } from "@electric-sql/pglite";
import { sqlStateOf } from "./errors.ts";

/** Rows of a query plus the affected-row count. */
export interface QueryResult<R> {
  rows: R[];
  /** Rows affected (INSERT/UPDATE/DELETE/COPY/MERGE) or returned (SELECT, and anything else), as pg reports it. */
  rowCount: number;
}

/** Something that runs SQL: a pool, a connection, or an open transaction. */
export interface Queryable {
  /** One statement with `$n` parameters. JS arrays bind as PostgreSQL arrays (for `unnest`). */
  query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
  /** Several `;`-separated statements without parameters (migration files). */
  exec(sql: string): Promise<void>;
}

/** A database: a {@link Queryable} that can open transactions and be closed. */
export interface Database extends Queryable {
  /** `"postgres"` (a server through `pg`) or `"pglite"` (embedded). */
  readonly dialect: "postgres" | "pglite";
  /** Runs `fn` in BEGIN … COMMIT on one connection; ROLLBACK and rethrow when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Closes the pool / the embedded database. */
  close(): Promise<void>;
}

// ------------------------------------------------------------------ pg

/**
 * Defaults of {@link PostgresOptions}. A half-open TCP connection (server host gone, NAT entry
 * expired) neither answers nor errors: without a client-side timeout a write would wait forever and
 * hold up the batcher behind it. The server-side timeouts free its locks when the client vanished.
 */
export const POSTGRES_DEFAULTS = {
  /** Pool size: the writer uses one connection per batch; the rest serve readers. */
  maxConnections: 4,
  /** Connect timeout per attempt, ms. */
  connectTimeoutMs: 5_000,
  /**
   * Client-side limit per `query()` and per BEGIN/COMMIT/ROLLBACK, ms (pg `query_timeout`): past it the
   * query fails (retried by the batcher) and its connection is discarded. Batch statements take
   * milliseconds; 30 s is far above any healthy one. `exec()` (migration files) has no client limit.
   */
  queryTimeoutMs: 30_000,
  /** Server-side `statement_timeout`, ms; migrations lift it for their own transaction. */
  statementTimeoutMs: 30_000,
  /** Server-side `idle_in_transaction_session_timeout`, ms: a client that vanished mid-transaction loses its locks. */
  idleInTransactionTimeoutMs: 60_000,
  /** TCP keepalive starts probing an idle connection after this long, ms (the OS's probe count and interval apply). */
  keepAliveInitialDelayMs: 10_000,
} as const;

/** Options for {@link openPostgres}. */
export interface PostgresOptions {
  /** `postgres://user@host:port/db`. */
  url: string;
  /** Pool size. Default {@link POSTGRES_DEFAULTS}.maxConnections. */
  maxConnections?: number;
  /** Connect timeout per attempt, ms. Default {@link POSTGRES_DEFAULTS}.connectTimeoutMs. */
  connectTimeoutMs?: number;
  /** Client-side query timeout, ms; 0 = none. Default {@link POSTGRES_DEFAULTS}.queryTimeoutMs. */
  queryTimeoutMs?: number;
  /** Server-side `statement_timeout`, ms; 0 = none. Default {@link POSTGRES_DEFAULTS}.statementTimeoutMs. */
  statementTimeoutMs?: number;
  /** Server-side `idle_in_transaction_session_timeout`, ms; 0 = none. Default {@link POSTGRES_DEFAULTS}.idleInTransactionTimeoutMs. */
  idleInTransactionTimeoutMs?: number;
  /** Receives errors of idle pooled connections (e.g. the server restarted). Default: ignored. */
  onError?: (err: Error) => void;
  /** `application_name` shown in pg_stat_activity. Default `tbg`. */
  applicationName?: string;
}

/** pg honours a per-query `query_timeout` (Client#query reads it from the config) that its types omit. */
function withQueryTimeout(config: pg.QueryConfig, queryTimeoutMs: number): pg.QueryConfig {
  const withTimeout: pg.QueryConfig & { query_timeout: number } = { ...config, query_timeout: queryTimeoutMs };
  return withTimeout;
}

class PgQueryable implements Queryable {
  constructor(
    protected readonly client: pg.Pool | pg.PoolClient,
    protected readonly queryTimeoutMs: number,
  ) {}

  async query<R>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    const res = await this.client.query(withQueryTimeout({ text, values: params as unknown[] | undefined }, this.queryTimeoutMs));
    return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 };
  }

  async exec(sql: string): Promise<void> {
    // Without parameters pg uses the simple-query protocol, which accepts several statements.
    await this.client.query(sql);
  }
}

class PgDatabase extends PgQueryable implements Database {
  readonly dialect = "postgres" as const;
  constructor(private readonly pool: pg.Pool, queryTimeoutMs: number) {
    super(pool, queryTimeoutMs);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    // A checked-out client whose connection dies emits 'error' with no pool listener attached:
    // unhandled, it would crash the process. The failing query rejects anyway; just mark it broken.
    const onError = (err: Error) => {
      broken = err;
    };
    client.on("error", onError);
    const control = (text: string) => client.query(withQueryTimeout({ text }, this.queryTimeoutMs));
    try {
      await control("BEGIN");
      const out = await fn(new PgQueryable(client, this.queryTimeoutMs));
      await control("COMMIT");
      return out;
    } catch (err) {
      if (sqlStateOf(err) === undefined) {
        // Not the server's answer (a query timeout, a dropped socket, our own bug): the connection's
        // state is unknown, so a ROLLBACK could hang just the same. Discard it; the server rolls back.
        broken = err instanceof Error ? err : new Error(String(err));
      } else {
        try {
          await control("ROLLBACK");
        } catch (rollbackErr) {
          // The connection itself is gone: drop it from the pool instead of reusing it.
          broken = rollbackErr as Error;
        }
      }
      throw err;
    } finally {
      client.off("error", onError);
      client.release(broken ?? false);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/**
 * Opens a `pg` Pool. Does not connect yet (the first query does), so a server that is down at start
 * shows up as {@link StoreUnavailableError}s that the batcher retries.
 */
export function openPostgres(opts: PostgresOptions): Database {
  const d = POSTGRES_DEFAULTS;
  const statementTimeoutMs = opts.statementTimeoutMs ?? d.statementTimeoutMs;
  const idleInTransactionTimeoutMs = opts.idleInTransactionTimeoutMs ?? d.idleInTransactionTimeoutMs;
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.maxConnections ?? d.maxConnections,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? d.connectTimeoutMs,
    application_name: opts.applicationName ?? "tbg",
    keepAlive: true,
    keepAliveInitialDelayMillis: d.keepAliveInitialDelayMs,
    // Sent as startup parameters; pg leaves out a falsy value (the server default then applies, i.e. none).
    statement_timeout: statementTimeoutMs > 0 ? statementTimeoutMs : undefined,
    idle_in_transaction_session_timeout: idleInTransactionTimeoutMs > 0 ? idleInTransactionTimeoutMs : undefined,
  });
  // An idle client's socket error is emitted on the pool; without a listener it would crash the process.
  pool.on("error", (err) => opts.onError?.(err));
  return new PgDatabase(pool, opts.queryTimeoutMs ?? d.queryTimeoutMs);
}

// ------------------------------------------------------------------ PGlite

class PgliteQueryable implements Queryable {
  constructor(protected readonly db: PGlite | Transaction) {}

  async query<R>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    const res = await this.db.query<R>(text, params as unknown[] | undefined);
    // PGlite's affectedRows sums only INSERT/UPDATE/DELETE/COPY/MERGE command tags: 0 for a SELECT that
    // returned rows. pg's rowCount is the affected count for those commands (which equals the rows a
    // RETURNING gives back) and the returned count otherwise; a DML that touched nothing returns no rows.
    return { rows: res.rows, rowCount: res.affectedRows || res.rows.length };
  }

  async exec(sql: string): Promise<void> {
    await this.db.exec(sql);
  }
}

class PgliteDatabase extends PgliteQueryable implements Database {
  readonly dialect = "pglite" as const;
  constructor(private readonly pglite: PGlite) {
    super(pglite);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return await this.pglite.transaction(async (tx) => await fn(new PgliteQueryable(tx)));
  }

  async close(): Promise<void> {
    if (!this.pglite.closed) await this.pglite.close();
  }
}

/** Options for {@link openPglite}. */
export interface PgliteOpenOptions {
  /**
   * Directory of the persistent database (created when missing). Omit for an in-memory database.
   * One process owns a data dir at a time (PGlite is single-connection).
   */
  dataDir?: string;
  /** Skip waiting for filesystem flushes (faster; the newest writes may be lost on a crash). Default false. */
  relaxedDurability?: boolean;
}

/** Opens an embedded PostgreSQL (PGlite). Follows the plain-PostgreSQL path: no TimescaleDB. */
export async function openPglite(opts: PgliteOpenOptions = {}): Promise<Database> {
  const { PGlite } = await import("@electric-sql/pglite");
  const options: PGliteOptions = { relaxedDurability: opts.relaxedDurability ?? false };
  const db = opts.dataDir ? await PGlite.create(opts.dataDir, options) : await PGlite.create(options);
  return new PgliteDatabase(db);
}
