import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { PgliteEventStore } from "../../src/pipeline/storage/event-store.ts";
import { loadAllTimeBests, loadUserSignatures, loadWeeklyBests, setUserSignature } from "../../src/pipeline/storage/queries.ts";
import { purgeExpired } from "../../src/pipeline/storage/retention.ts";
import { BASE_US, address, makeShares } from "./fixtures.ts";

let store: PgliteEventStore;
before(async () => {
  store = new PgliteEventStore();
  await store.start();
});
after(() => store.close());

test("user signatures: set, list, and incremental reload by settings_updated_at", async () => {
  await setUserSignature(store.database, address(1), "/solo by one/");
  await setUserSignature(store.database, address(2), "/two/");
  const all = await loadUserSignatures(store.database);
  assert.deepEqual(all.map((s) => [s.address, s.signature]), [[address(1), "/solo by one/"], [address(2), "/two/"]]);
  const cursor = all[all.length - 1].updatedAt;
  // The trigger bumps settings_updated_at only when a setting changes (not on last_seen updates).
  await store.writeBatch(makeShares(4, { users: 3 }));
  await new Promise((r) => setTimeout(r, 5)); // distinct now() for the next statement
  await setUserSignature(store.database, address(2), null);
  const changed = await loadUserSignatures(store.database, cursor);
  assert.deepEqual(changed.map((s) => [s.address, s.signature]), [[address(2), null]]);
});

test("best difficulties load per user: all-time and for one ISO week", async () => {
  const shares = makeShares(30, { users: 3 });
  await store.writeBatch(shares);
  const max = new Map<string, number>();
  for (const s of shares) if (s.data.accepted) max.set(s.data.user, Math.max(max.get(s.data.user) ?? 0, s.data.share_difficulty));
  const alltime = await loadAllTimeBests(store.database);
  const weekly = await loadWeeklyBests(store.database, "2026-11-16");
  for (const [a, best] of max) {
    assert.ok((alltime.get(a) ?? 0) >= best);
    assert.ok((weekly.get(a) ?? 0) >= best);
  }
  assert.equal((await loadWeeklyBests(store.database, "2026-11-23")).size, 0);
});

test("retention deletes raw shares past the horizon in batches and keeps the hourly roll-up", async () => {
  const old = makeShares(25, { startUs: BASE_US - 100 * 86_400_000_000 });
  await store.writeBatch(old);
  const before = await store.database.query<{ n: number }>("SELECT count(*)::int AS n FROM shares_hourly");
  const rep = await purgeExpired(store.database, { now: () => BASE_US / 1000, batchRows: 10 });
  assert.deepEqual(rep, { shares: 25, eventLog: 0, timescale: false });
  const left = await store.database.query<{ n: number }>("SELECT count(*)::int AS n FROM shares WHERE ts < '2026-09-01'");
  assert.equal(left.rows[0].n, 0);
  const after = await store.database.query<{ n: number }>("SELECT count(*)::int AS n FROM shares_hourly");
  assert.equal(after.rows[0].n, before.rows[0].n);
});
