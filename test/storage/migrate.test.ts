import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { startPostgres, type PostgresServer } from "../support/servers.ts";
import { openPglite, openPostgres, type Database } from "../../src/storage/queryable.ts";
import { loadMigrations, migrate, parseMigration, probeCapabilities } from "../../src/storage/migrate.ts";

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
