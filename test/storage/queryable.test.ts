/**
 * The pg adapter's timeouts against a real PostgreSQL (test/support/servers.ts): a connection that goes
 * silent (a half-open TCP connection, simulated by a proxy that stops forwarding without closing) fails
 * after `queryTimeoutMs` instead of hanging the writer forever; server-side timeouts are set on every
 * connection, and migrations lift statement_timeout for themselves.
 */
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { connect, createServer, type Server, type Socket } from "node:net";
import { PgEventStore } from "../../src/pipeline/storage/event-store.ts";
import { loadMigrations, migrate, parseMigration } from "../../src/pipeline/storage/migrate.ts";
import { openPostgres, type Database } from "../../src/pipeline/storage/queryable.ts";
import { startPostgres, type PostgresServer } from "../support/servers.ts";
import { makeShares } from "./fixtures.ts";

/** TCP proxy to `port` whose open connections can be frozen: nothing more flows, nothing is closed. */
class FreezableProxy {
  private readonly server: Server;
  private readonly pairs = new Set<[Socket, Socket]>();
  port = 0;

  constructor(private readonly targetPort: number) {
    this.server = createServer((client) => {
      const upstream = connect(this.targetPort, "127.0.0.1");
      const pair: [Socket, Socket] = [client, upstream];
      this.pairs.add(pair);
      client.pipe(upstream).pipe(client);
      const drop = () => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on("error", drop).on("close", drop);
      upstream.on("error", drop).on("close", drop);
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const addr = this.server.address();
    this.port = typeof addr === "object" && addr ? addr.port : 0;
  }

  /** Every connection open now goes silent both ways (later ones flow normally). Returns how many. */
  freeze(): number {
    for (const [client, upstream] of this.pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
    return this.pairs.size;
  }

  async close(): Promise<void> {
    for (const [client, upstream] of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** `p`, or a rejection after `ms` (so a regression fails instead of hanging the suite). */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (t = setTimeout(() => reject(new Error(`${what}: still waiting after ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(t);
  }
}

describe("pg adapter timeouts", () => {
  let pg: PostgresServer;
  before(async () => {
    pg = await startPostgres();
  });
  after(async () => {
    await pg.close();
  });

  test("a connection gone silent mid-use (half-open): writeBatch fails after queryTimeoutMs as unavailable, the next one commits, close is prompt", async (t) => {
    const proxy = new FreezableProxy(pg.port);
    await proxy.start();
    t.after(() => proxy.close());
    const url = new URL(pg.url);
    url.port = String(proxy.port);
    const store = new PgEventStore({ url: url.toString(), queryTimeoutMs: 300, maxConnections: 1 });
    await store.start();
    const events = makeShares(20);
    assert.equal((await store.writeBatch(events.slice(0, 10))).inserted, 10);

    assert.equal(proxy.freeze(), 1);
    const started = performance.now();
    await assert.rejects(within(store.writeBatch(events.slice(10)), 5_000, "writeBatch on a silent connection"), { code: "STORE_UNAVAILABLE" });
    const failedAfterMs = performance.now() - started;
    // One timeout (BEGIN), not two: no ROLLBACK is attempted on a connection in an unknown state.
    assert.ok(failedAfterMs >= 250 && failedAfterMs < 1_500, `failed after ${failedAfterMs.toFixed(0)} ms`);
    t.diagnostic(`writeBatch on the silent connection failed after ${failedAfterMs.toFixed(0)} ms`);

    // The silent connection was discarded: the retry gets a fresh one and commits.
    assert.equal((await within(store.writeBatch(events.slice(10)), 5_000, "retry on a fresh connection")).inserted, 10);
    await within(store.close(), 2_000, "store.close()");
  });

  test("statement_timeout and idle_in_transaction_session_timeout are set on every connection; migrations lift statement_timeout", async () => {
    const defaults: Database = openPostgres({ url: pg.url });
    try {
      const show = async (name: string) => (await defaults.query<Record<string, string>>(`SHOW ${name}`)).rows[0][name];
      assert.equal(await show("statement_timeout"), "30s");
      assert.equal(await show("idle_in_transaction_session_timeout"), "1min");
    } finally {
      await defaults.close();
    }
    const db = openPostgres({ url: pg.url, statementTimeoutMs: 200 });
    try {
      await assert.rejects(db.query("SELECT pg_sleep(1)"), { code: "57014" }); // query_canceled
      const slow = parseMigration("900_slow.sql", "CREATE TABLE slow_migration (n int);\nSELECT pg_sleep(0.4);\n");
      const rep = await migrate(db, { migrations: [...(await loadMigrations()), slow], capabilities: [] });
      assert.ok(rep.applied.includes(900), `applied ${rep.applied.join(",")}`);
      await assert.rejects(db.query("SELECT pg_sleep(1)"), { code: "57014" }, "lifted for the migration's transaction only");
    } finally {
      await db.close();
    }
  });
});
