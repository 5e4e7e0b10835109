import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { startPostgres, type PostgresServer } from "../support/servers.ts";
import { openPglite, openPostgres, type Database, type Queryable, type QueryResult } from "../../src/pipeline/storage/queryable.ts";
import { loadMigrations, migrate, parseMigration, probeCapabilities } from "../../src/pipeline/storage/migrate.ts";

const TABLES = ["users", "workers", "shares", "shares_hourly", "weekly_best_diff", "best_diff_records", "blocks",
  "miner_sessions", "network_blocks", "relay_states", "event_log", "schema_migrations"];

async function tables(db: Database): Promise<string[]> {
  const res = await db.query<{ t: string }>("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1");
  return res.rows.map((r) => r.t);
}

test("parseMigration reads the version, name and the requires directive", () => {
  const m = parseMigration("002_timescale.sql", "-- tbg:requires timescaledb\n-- text\nSELECT 1;\n-- tbg:requires nothing-after-sql\n");
  assert.equal(m.version, 2);
  assert.equal(m.name, "timescale");
  assert.deepEqual(m.requires, ["timescaledb"]);
  assert.equal(m.checksum.length, 64);
  assert.throws(() => parseMigration("2_x.sql", ""), { code: "MIGRATION_INVALID_FILE" });
  assert.throws(() => parseMigration("003_x.sql", "-- tbg:requires oracle\n"), { code: "MIGRATION_INVALID_FILE" });
});

test("the repository's migrations load in order, the TimescaleDB step is conditional", async () => {
  const list = await loadMigrations();
  assert.deepEqual(list.map((m) => m.file).slice(0, 2), ["001_core.sql", "002_timescale.sql"]);
  assert.deepEqual(list[0].requires, []);
  assert.deepEqual(list[1].requires, ["timescaledb"]);
});

for (const backend of ["postgres", "pglite"] as const) {
  describe(`migrations on ${backend}`, () => {
    let pg: PostgresServer | undefined;
    let db: Database;
    before(async () => {
      if (backend === "postgres") {
        pg = await startPostgres();
        db = openPostgres({ url: pg.url });
      } else {
        db = await openPglite();
      }
    });
    after(async () => {
      await db.close();
      await pg?.close();
    });

    test("apply once, then a second run is a no-op; TimescaleDB is absent so its step is skipped, not recorded", async () => {
      assert.deepEqual(await probeCapabilities(db), []);
      const first = await migrate(db);
      assert.deepEqual(first.applied, [1]);
      assert.deepEqual(first.skipped, [2]);
      assert.equal(first.current, 1);
      for (const t of TABLES) assert.ok((await tables(db)).includes(t), `table ${t}`);
      const second = await migrate(db);
      assert.deepEqual(second.applied, []);
      assert.deepEqual(second.skipped, [2]);
      assert.equal(second.current, 1);
      const rows = await db.query<{ version: number }>("SELECT version FROM schema_migrations");
      assert.deepEqual(rows.rows.map((r) => r.version), [1]);
    });

    test("rowCount is the number of rows a statement returns, or affects when it returns none", async () => {
      await db.exec("CREATE TABLE rowcount_probe (n int PRIMARY KEY)");
      try {
        const count = async (sql: string, params?: unknown[]) => (await db.query(sql, params)).rowCount;
        assert.equal(await count("SELECT n FROM generate_series(1, 3) AS n"), 3);
        assert.equal(await count("SELECT 1 WHERE false"), 0);
        assert.equal(await count("INSERT INTO rowcount_probe VALUES (1), (2), (3)"), 3);
        assert.equal(await count("INSERT INTO rowcount_probe VALUES (3), (4) ON CONFLICT DO NOTHING RETURNING n"), 1);
        assert.equal(await count("SELECT 1 FROM rowcount_probe WHERE n = $1", [2]), 1);
        assert.equal(await count("UPDATE rowcount_probe SET n = n + 10 WHERE n > 2"), 2);
        assert.equal(await count("DELETE FROM rowcount_probe WHERE n > 100"), 0);
        assert.equal(await count("WITH d AS (DELETE FROM rowcount_probe RETURNING n) SELECT count(*) FROM d"), 1);
        assert.equal(await db.transaction(async (tx) => (await tx.query("SELECT n FROM generate_series(1, 2) AS n")).rowCount), 2);
      } finally {
        await db.exec("DROP TABLE rowcount_probe");
      }
    });

    test("a failing migration rolls back completely and is not recorded", async () => {
      const all = await loadMigrations();
      const bad = parseMigration("003_bad.sql", "CREATE TABLE half_done (n int);\nSELECT * FROM no_such_table;\n");
      await assert.rejects(migrate(db, { migrations: [...all, bad] }), { code: "MIGRATION_FAILED" });
      assert.ok(!(await tables(db)).includes("half_done"));
      const ok = parseMigration("003_good.sql", "CREATE TABLE later_table (n int);\n");
      const rep = await migrate(db, { migrations: [...all, ok] });
      assert.deepEqual(rep.applied, [3]);
      assert.ok((await tables(db)).includes("later_table"));
      // The code no longer knowing an applied version means the schema is ahead of it.
      await assert.rejects(migrate(db, { migrations: all }), { code: "MIGRATION_DB_AHEAD" });
      // An applied file that changed is refused.
      const changed = parseMigration("003_good.sql", "CREATE TABLE later_table (n bigint);\n");
      await assert.rejects(migrate(db, { migrations: [...all, changed] }), { code: "MIGRATION_CHECKSUM_MISMATCH" });
    });
  });
}

test("concurrent migrators on one PostgreSQL serialise: the schema is applied exactly once", async (t) => {
  const pg = await startPostgres();
  t.after(() => pg.close());
  const dbs = [openPostgres({ url: pg.url }), openPostgres({ url: pg.url }), openPostgres({ url: pg.url })];
  t.after(() => Promise.all(dbs.map((d) => d.close())));
  const reports = await Promise.all(dbs.map((d) => migrate(d)));
  assert.equal(reports.flatMap((r) => r.applied).length, 1);
  assert.ok(reports.every((r) => r.current === 1));
});

/**
 * `db` where `race(tx)` runs right after the first migration's transaction takes the lock, as if another
 * migrator had held the lock and applied it meanwhile. (Lock 1 is migrate's schema_migrations setup.)
 */
function racedAfterLock(db: Database, race: (tx: Queryable) => Promise<void>): Database {
  let locks = 0;
  return {
    dialect: db.dialect,
    query: async <R>(text: string, params?: readonly unknown[]) => await db.query<R>(text, params),
    exec: async (sql: string) => await db.exec(sql),
    close: async () => await db.close(),
    transaction: async <T>(fn: (tx: Queryable) => Promise<T>) => await db.transaction(async (tx) => await fn({
      exec: async (sql: string) => await tx.exec(sql),
      query: async <R>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>> => {
        const res = await tx.query<R>(text, params);
        if (text.includes("pg_advisory_xact_lock") && ++locks === 2) await race(tx);
        return res;
      },
    })),
  };
}

test("PGlite: a migration another migrator applied while this one waited for the lock is not applied again", async () => {
  // Regression: PGlite reported rowCount 0 for a SELECT that matched, so the re-check under the lock
  // never saw the other migrator's row and ran the migration a second time (failing here on CREATE TABLE).
  const inner = await openPglite();
  try {
    const m = parseMigration("001_raced.sql", "CREATE TABLE raced_table (n int);\n");
    const db = racedAfterLock(inner, async (tx) => {
      await tx.exec(m.sql);
      await tx.query("INSERT INTO schema_migrations (version, name, checksum, duration_ms) VALUES ($1, $2, $3, 0)", [m.version, m.name, m.checksum]);
    });
    const rep = await migrate(db, { migrations: [m], capabilities: [] });
    assert.deepEqual(rep.applied, []);
    assert.equal(rep.current, 1);
    assert.ok((await tables(inner)).includes("raced_table"));
  } finally {
    await inner.close();
  }
});
