/**
 * tbg collector's JetStream input against real nats-server -js and PostgreSQL (test/support/servers.ts):
 * tbg publisher's pipeline (spool → JetStream, msgID = event_id) → durable `event-pipeline` → database,
 * acked only after the commit. Exactly once under re-publishes, a PostgreSQL restart mid-stream, and a
 * collector process SIGKILLed mid-batch and restarted. Malformed messages are terminated and counted.
 * (That both durables see every event is shown by test/publisher/publisher.test.ts; here we only check
 * that the collector's acks take nothing away from `game-engine`.)
 */
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Collector } from "../../src/pipeline/collector/collector.ts";
import { JetStreamInput } from "../../src/pipeline/collector/jetstream-input.ts";
import { validateEvent } from "../../src/pipeline/events/schemas.ts";
import { Batcher } from "../../src/pipeline/storage/batcher.ts";
import { DURABLE_CONSUMERS, MINING_EVENTS_STREAM, ensureDurableConsumer, ensureEventStream, eventSubject } from "../../src/pipeline/nats/jetstream.ts";
import { JetStreamPublisher } from "../../src/pipeline/nats/publisher.ts";
import { PgEventStore } from "../../src/pipeline/storage/event-store.ts";
import type { MiningEvent } from "../../src/pipeline/events/types.ts";
import { startNats, startPostgres, type PostgresServer, type TestServer } from "../support/servers.ts";
import { BASE_US, makeShares, waitFor } from "../storage/fixtures.ts";
import { emptyDatabase } from "../support/reset.ts";

const TBG = new URL("../../bin/tbg", import.meta.url).pathname;

describe("collector: JetStream event-pipeline → PostgreSQL", () => {
  let pg: PostgresServer;
  let nats: TestServer;
  let nc: NatsConnection;
  let dir: string;

  before(async () => {
    [pg, nats] = await Promise.all([startPostgres(), startNats()]);
    dir = await mkdtemp(join(tmpdir(), "tbg-colljs-"));
    nc = await connect({ servers: nats.url });
  });
  after(async () => {
    await nc.close();
    await Promise.all([pg.close(), nats.close(), rm(dir, { recursive: true, force: true })]);
  });

  /** Empty database schema, and a fresh stream with both platform durables (as deployed). */
  async function fresh(): Promise<void> {
    await emptyDatabase(pg.url);
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(MINING_EVENTS_STREAM).catch(() => false);
    await ensureEventStream(nc);
    for (const name of DURABLE_CONSUMERS) await ensureDurableConsumer(nc, { name });
  }
  async function rows(sql: string): Promise<number> {
    const s = new PgEventStore({ url: pg.url, migrate: false, connectTimeoutMs: 1_000 });
    await s.start();
    try {
      return (await s.database.query<{ n: number }>(sql)).rows[0].n;
    } finally {
      await s.close();
    }
  }
  async function consumerInfo(name: string) {
    return await (await jetstreamManager(nc)).consumers.info(MINING_EVENTS_STREAM, name);
  }
  async function publishRaw(events: readonly MiningEvent[], msgId: (e: MiningEvent) => string = (e) => e.event_id): Promise<number> {
    const js = jetstream(nc);
    let dup = 0;
    for (const e of events) if ((await js.publish(eventSubject(e.region, e.event), JSON.stringify(e), { msgID: msgId(e) })).duplicate) dup++;
    return dup;
  }

  test("published by tbg publisher's pipeline, re-published, redelivered: every event stored exactly once, acked after commit; malformed ones terminated and counted", async (t) => {
    await fresh();
    const collector = new Collector({ natsUrl: nats.url, databaseUrl: pg.url, batch: { flushIntervalMs: 200 }, defaultMetrics: false, http: { host: "127.0.0.1", port: 0 } });
    await collector.start();
    t.after(() => collector.close());
    const pub = new JetStreamPublisher({ natsUrl: nats.url, region: "us-east", spoolDir: join(dir, "spool-a") });
    await pub.start();
    t.after(() => pub.close());

    const events = makeShares(2_000, { users: 20, startUs: BASE_US }).map((e) => ({ ...e, region: "us-east" }));
    for (const e of events) assert.equal(pub.ingest(Buffer.from(JSON.stringify(e))), true);
    await waitFor(() => pub.drained, "publisher drained");
    // A re-publish with the same msgID is dropped by JetStream; one with another msgID (outside the
    // duplicate window, say) reaches the collector and is caught by the database.
    assert.equal(await publishRaw(events.slice(0, 100)), 100);
    assert.equal(await publishRaw(events.slice(100, 300), (e) => `${e.event_id}-again`), 0);
    // Malformed, oversized (under the stream's 8 KiB message cap) and wrong-typed messages, mid-stream.
    const js = jetstream(nc);
    const share = events[0];
    await js.publish("mining.events.us-east.share_submitted", "{oops", { msgID: "bad-1" });
    await js.publish("mining.events.us-east.share_submitted", JSON.stringify({ ...share, pad: "x".repeat(6_000) }), { msgID: "bad-2" });
    await js.publish("mining.events.us-east.share_submitted", JSON.stringify({ ...share, data: { ...share.data, height: "tall" } }), { msgID: "bad-3" });
    await js.publish("mining.events.us-east.telepathy", JSON.stringify({ ...share, event: "telepathy" }), { msgID: "bad-4" });
    const more = makeShares(500, { users: 5, startUs: BASE_US + 3_600_000_000 });
    await publishRaw(more);
    const total = 2_000 + 200 + 4 + 500;

    await waitFor(() => { const n = collector.stats().nats!; return n.acked + n.termed === total; }, "every message acked or terminated", 30_000);
    const st = collector.stats();
    assert.equal(st.batcher.stored, 2_500);
    assert.equal(st.batcher.duplicates, 200);
    assert.equal(st.nats?.termed, 4);
    assert.deepEqual(st.nats?.malformed, { too_large: 1, invalid_json: 1, unknown_type: 1, schema: 1 });
    assert.equal(await rows("SELECT count(*)::int AS n FROM shares"), 2_500);
    assert.equal(await rows("SELECT count(*)::int AS n FROM shares WHERE region = 'us-east'"), 2_000);
    await waitFor(async () => (await consumerInfo("event-pipeline")).num_ack_pending === 0, "no unacked messages");
    const pipeline = await consumerInfo("event-pipeline");
    assert.equal(pipeline.num_pending, 0);
    assert.equal(pipeline.num_redelivered, 0);
    // Limits retention: acks by event-pipeline remove nothing; game-engine still has every message.
    assert.equal((await consumerInfo("game-engine")).num_pending, total);

    const metrics = await (await fetch(`${collector.httpUrl}/metrics`)).text();
    assert.match(metrics, /^tbg_collector_events_received_total\{input="nats"\} 2704$/m);
    assert.match(metrics, /^tbg_collector_nats_acks_total\{kind="term"\} 4$/m);
    assert.match(metrics, /^tbg_collector_events_malformed_total\{input="nats",reason="too_large"\} 1$/m);
    assert.match(metrics, /^tbg_collector_nats_connected 1$/m);
  });

  test("PostgreSQL crashes and restarts mid-stream: nothing lost, nothing doubled, everything acked", async (t) => {
    await fresh();
    // A short ack_wait: the outage outlasts it, so this also shows the working() keep-alive at work.
    const collector = new Collector({
      natsUrl: nats.url, databaseUrl: pg.url, nats: { ackWaitMs: 1_500 }, batch: { flushIntervalMs: 200 }, defaultMetrics: false,
    });
    await collector.start();
    t.after(() => collector.close());
    const events = makeShares(3_000, { users: 30, startUs: BASE_US + 7 * 86_400_000_000 });
    await publishRaw(events.slice(0, 1_000));
    await waitFor(() => collector.stats().batcher.stored === 1_000, "first 1000 stored");
    await pg.stop({ kill: true });
    await publishRaw(events.slice(1_000, 2_000));
    await waitFor(() => collector.stats().batcher.storeErrors >= 2 && collector.stats().nats!.received === 2_000, "held while PostgreSQL is down", 20_000);
    assert.equal(collector.stats().database.failing, true);
    // Longer than ack_wait: without working() the server would redeliver these.
    await new Promise((r) => setTimeout(r, 2_000)); // letting time pass, not synchronisation
    await pg.restart();
    await publishRaw(events.slice(2_000));
    await waitFor(() => collector.stats().nats!.acked >= 3_000 && collector.stats().nats!.inFlight === 0, "all acked", 30_000);
    assert.equal(await rows("SELECT count(*)::int AS n FROM shares"), 3_000);
    assert.equal(await rows("SELECT count(DISTINCT event_id)::int AS n FROM shares"), 3_000);
    assert.equal(await rows("SELECT (sum(accepted_shares) + sum(rejected_shares))::int AS n FROM shares_hourly"), 3_000);
    await waitFor(async () => (await consumerInfo("event-pipeline")).num_ack_pending === 0, "no unacked messages");
    const st = collector.stats();
    assert.equal(st.batcher.stored, 3_000);
    assert.equal(st.nats?.received, 3_000 + st.batcher.duplicates, "redeliveries, if any, were duplicates");
    t.diagnostic(`redelivered during the outage: ${st.batcher.duplicates}; store errors ${st.batcher.storeErrors}`);
  });

  test("nats-server restarted under a consuming collector: it reconnects, resumes its durable, stores what follows", async (t) => {
    await fresh();
    const collector = new Collector({ natsUrl: nats.url, databaseUrl: pg.url, nats: { reconnectTimeWaitMs: 100 }, batch: { flushIntervalMs: 100 }, defaultMetrics: false });
    await collector.start();
    t.after(() => collector.close());
    const events = makeShares(1_000, { startUs: BASE_US + 21 * 86_400_000_000 });
    await publishRaw(events.slice(0, 500));
    await waitFor(() => collector.stats().batcher.stored === 500, "first half stored");
    await nats.stop();
    await waitFor(() => !collector.stats().nats!.connected, "collector saw the disconnect");
    await nats.restart();
    await waitFor(() => collector.stats().nats!.connected, "collector reconnected", 20_000);
    await waitFor(() => nc.flush().then(() => true, () => false), "the test's own connection back", 20_000);
    await publishRaw(events.slice(500));
    await waitFor(() => collector.stats().batcher.stored === 1_000, "second half stored after the restart", 30_000);
    assert.equal(await rows("SELECT count(*)::int AS n FROM shares"), 1_000);
  });

  /**
   * Regression: consume() without abort_on_missing_resource re-pulls a deleted consumer forever (nats.js
   * 3.4), so the durable was never re-created and nothing more was stored while stats said consuming.
   */
  for (const what of ["durable", "stream"] as const) {
    test(`the ${what} deleted under a consuming collector: it reports not consuming, re-creates it, stores what is published afterwards`, async (t) => {
      await fresh();
      const store = new PgEventStore({ url: pg.url });
      await store.start();
      const batcher = new Batcher({ store, validate: validateEvent, flushIntervalMs: 50 });
      batcher.start();
      const consumingAtError: boolean[] = [];
      const input = new JetStreamInput({
        url: nats.url, batcher, onError: () => consumingAtError.push(input.stats().consuming),
      });
      t.after(async () => {
        await input.stop();
        await batcher.close(2_000);
        await input.close();
        await store.close();
      });
      input.start();
      assert.equal(await input.whenConsuming(10_000), true);
      const events = makeShares(20, { startUs: BASE_US + (what === "durable" ? 28 : 29) * 86_400_000_000 });
      await publishRaw(events.slice(0, 10));
      await waitFor(() => batcher.stats().stored === 10, "first 10 stored");

      const jsm = await jetstreamManager(nc);
      if (what === "durable") await jsm.consumers.delete(MINING_EVENTS_STREAM, "event-pipeline");
      else await jsm.streams.delete(MINING_EVENTS_STREAM);
      await waitFor(() => input.stats().errors > 0, `the collector noticed the deleted ${what}`, 10_000);
      assert.equal(consumingAtError[0], false, "not consuming (so /health degrades) while it recovers");
      t.diagnostic(`noticed as: ${input.stats().lastError}`);
      // The collector re-creates what is missing (the stream only when it is gone, as at start).
      await waitFor(async () => (await consumerInfo("event-pipeline").catch(() => null)) !== null, "durable re-created", 10_000);
      await waitFor(() => input.stats().consuming, "consuming again", 10_000);

      await publishRaw(events.slice(10));
      await waitFor(() => batcher.stats().stored === 20, "events published after the deletion stored", 10_000);
      assert.equal(await rows(`SELECT count(*)::int AS n FROM shares WHERE event_id IN (${events.map((e) => `'${e.event_id}'`).join(",")})`), 20);
    });
  }

  test("tbg collector SIGKILLed mid-batch while events flow, then restarted: nothing lost, nothing doubled", async (t) => {
    await fresh();
    const args = ["collector", "--nats-url", nats.url, "--database-url", pg.url, "--metrics-port", "off", "--ack-wait-sec", "2"];
    const children: ChildProcess[] = [];
    t.after(() => { for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL"); });
    const spawnCollector = async () => {
      const child = spawn(process.execPath, [TBG, ...args], { stdio: ["ignore", "pipe", "pipe"] });
      children.push(child);
      let out = "";
      child.stdout!.on("data", (b: Buffer) => (out += b.toString()));
      child.stderr!.on("data", (b: Buffer) => (out += b.toString()));
      await waitFor(() => out.includes("collector started") || child.exitCode !== null, "collector started", 30_000);
      assert.equal(child.exitCode, null, out);
      return { child, output: () => out };
    };

    const events = makeShares(6_000, { users: 40, startUs: BASE_US + 14 * 86_400_000_000 });
    const first = await spawnCollector();
    // Publish in bursts while the collector runs; kill it once some rows are in but not all.
    let published = 0;
    const publishing = (async () => {
      while (published < events.length) {
        await publishRaw(events.slice(published, published + 250));
        published += 250;
        await new Promise((r) => setTimeout(r, 50)); // pacing the load, not synchronisation
      }
    })();
    await waitFor(async () => (await rows("SELECT count(*)::int AS n FROM shares").catch(() => 0)) >= 1_000, "first rows stored", 30_000);
    const exited = new Promise((resolve) => first.child.once("exit", resolve));
    first.child.kill("SIGKILL");
    await exited;
    const atKill = await consumerInfo("event-pipeline");
    const rowsAtKill = await rows("SELECT count(*)::int AS n FROM shares");
    t.diagnostic(`killed with ${rowsAtKill} rows stored, ${atKill.num_ack_pending} messages delivered and unacked`);
    assert.ok(rowsAtKill < events.length, "killed before the end");
    await publishing;

    const second = await spawnCollector();
    await waitFor(async () => (await rows("SELECT count(*)::int AS n FROM shares")) === events.length, "all rows after the restart", 60_000);
    await waitFor(async () => { const c = await consumerInfo("event-pipeline"); return c.num_ack_pending === 0 && c.num_pending === 0; }, "everything acked", 30_000);
    assert.equal(await rows("SELECT count(DISTINCT event_id)::int AS n FROM shares"), events.length);
    assert.equal(await rows("SELECT (sum(accepted_shares) + sum(rejected_shares))::int AS n FROM shares_hourly"), events.length);

    const exit2 = new Promise<number | null>((resolve) => second.child.once("exit", (code) => resolve(code)));
    second.child.kill("SIGTERM");
    assert.equal(await exit2, 0, second.output());
    assert.match(second.output(), /collector stopped/);
  });
});
