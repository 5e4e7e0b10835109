/**
 * tbg publisher against a real nats-server (test/support/servers.ts) that is stopped while events keep
 * arriving on the datagram socket, and restarted. In CI (CI=true) or with TBG_LONG_TESTS=1 the outage
 * lasts the 30 s; locally it is 3 s.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DgramSocket } from "node-unix-socket";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { JetStreamPublisher } from "../../src/pipeline/nats/publisher.ts";
import { DURABLE_CONSUMERS, MINING_EVENTS_STREAM, ensureDurableConsumer, ensureEventStream } from "../../src/pipeline/nats/jetstream.ts";
import { startNats } from "../support/servers.ts";
import { BASE_US, makeEvent, makeShares, waitFor } from "../storage/fixtures.ts";

// The 30 s outage runs in CI (CI=true) and with TBG_LONG_TESTS=1; 3 s keeps local runs quick.
const OUTAGE_MS = process.env.TBG_LONG_TESTS || process.env.CI ? 30_000 : 3_000;

/** Cleanups run last-registered-first (node:test runs `after` hooks in registration order). */
function cleanups(t: { after: (fn: () => Promise<void>) => void }) {
  const stack: Array<() => unknown> = [];
  t.after(async () => {
    for (const fn of stack.reverse()) await fn();
  });
  return (fn: () => unknown) => stack.push(fn);
}

async function tempDir(defer: (fn: () => unknown) => void): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "tbg-pub-"));
  defer(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Sends datagrams like the engine does (node-unix-socket queues on EAGAIN, so none is lost here). */
function sender(path: string) {
  const sock = new DgramSocket();
  sock.on("error", () => {});
  let inFlight = 0;
  return {
    send(buf: Buffer) {
      inFlight++;
      sock.sendTo(buf, 0, buf.length, path, () => inFlight--);
    },
    async drained() {
      await waitFor(() => inFlight === 0, "datagrams sent");
    },
    close: () => sock.close(),
  };
}

/** Every message of the stream as seen by durable `name` (each acked), as event ids. */
async function drainDurable(nc: NatsConnection, name: string, expected: number): Promise<string[]> {
  const js = jetstream(nc);
  const consumer = await js.consumers.get(MINING_EVENTS_STREAM, name);
  const ids: string[] = [];
  // Bounded: stops at the expected count or after a fetch that returns nothing.
  for (let round = 0; round < 1_000 && ids.length < expected; round++) {
    const batch = await consumer.fetch({ max_messages: 1_000, expires: 2_000 });
    let got = 0;
    for await (const m of batch) {
      ids.push((m.json() as { event_id: string }).event_id);
      m.ack();
      got++;
    }
    if (got === 0) break;
  }
  return ids;
}

async function streamCount(nc: NatsConnection): Promise<number> {
  const jsm = await jetstreamManager(nc);
  return (await jsm.streams.info(MINING_EVENTS_STREAM)).state.messages;
}

test(`nats-server down for ${OUTAGE_MS / 1000} s while events keep arriving: every event in the stream exactly once, both durables see all`, async (t) => {
  const defer = cleanups(t);
  const nats = await startNats();
  defer(() => nats.close());
  const dir = await tempDir(defer);
  const socketPath = join(dir, "events.sock");
  const pub = new JetStreamPublisher({ socketPath, natsUrl: nats.url, region: "us-east", spoolDir: join(dir, "spool"), reconnectTimeWaitMs: 250, publishTimeoutMs: 2_000 });
  await pub.start();
  defer(() => pub.close());
  // The platform creates its durables up front; with limits retention they may also come later.
  const admin = await connect({ servers: nats.url });
  await ensureEventStream(admin);
  for (const name of DURABLE_CONSUMERS) await ensureDurableConsumer(admin, { name });
  await admin.close();

  const events = makeShares(3_000, { users: 30 });
  const tx = sender(socketPath);
  defer(() => tx.close());
  for (const e of events.slice(0, 1_000)) tx.send(Buffer.from(JSON.stringify(e)));
  await waitFor(() => pub.stats().forwarder.published === 1_000, "first 1000 published");

  await nats.stop();
  // Keep sending through the outage, a burst every 100 ms.
  const during = events.slice(1_000, 2_000);
  const ticks = OUTAGE_MS / 100;
  for (let k = 0; k < ticks; k++) {
    const slice = during.slice(Math.floor((k * during.length) / ticks), Math.floor(((k + 1) * during.length) / ticks));
    for (const e of slice) tx.send(Buffer.from(JSON.stringify(e)));
    await new Promise((r) => setTimeout(r, 100)); // pacing the load, not synchronisation
  }
  await tx.drained();
  await waitFor(() => pub.stats().received === 2_000, "outage events received");
  assert.equal(pub.stats().nats.ready, false);
  assert.ok(pub.stats().spool.unacked >= 1_000, `spooled ${pub.stats().spool.unacked}`);
  await nats.restart();

  for (const e of events.slice(2_000)) tx.send(Buffer.from(JSON.stringify(e)));
  await tx.drained();
  await waitFor(() => pub.stats().received === 3_000 && pub.drained, "everything acknowledged", 60_000);

  const nc = await connect({ servers: nats.url });
  defer(() => nc.close());
  assert.equal(await streamCount(nc), 3_000);
  const want = new Set(events.map((e) => e.event_id));
  for (const name of DURABLE_CONSUMERS) {
    const ids = await drainDurable(nc, name, 3_000);
    assert.equal(ids.length, 3_000, `${name} count`);
    assert.equal(new Set(ids).size, 3_000, `${name} distinct`);
    assert.ok(ids.every((id) => want.has(id)), `${name} ids`);
  }
  const st = pub.stats();
  assert.equal(st.forwarder.published, 3_000);
  assert.equal(st.malformed, 0);
});

test("a publisher restart resumes from the spool: events spooled while NATS was down go out from the next run", async (t) => {
  const defer = cleanups(t);
  const nats = await startNats();
  defer(() => nats.close());
  const dir = await tempDir(defer);
  const spoolDir = join(dir, "spool");
  await nats.stop();
  const first = new JetStreamPublisher({ natsUrl: nats.url, region: "eu", spoolDir, reconnectTimeWaitMs: 250 });
  await first.start();
  const events = makeShares(500, { startUs: BASE_US + 3_600_000_000 });
  const block = makeEvent("block_found", { user: "bc1qfinder", worker: "w", height: 900_002, hash: "00".repeat(32), reward_sats: 312_500_000, coinbase_signature: "/TheBitcoinGame/", accepted: true, submit_results: [], share_difficulty: 1, network_difficulty: 1 });
  for (const e of [...events, block]) assert.equal(first.ingest(Buffer.from(JSON.stringify(e))), true);
  assert.equal(first.ingest(Buffer.from("{\"event\":\"nope\"}")), false);
  await first.close();
  assert.equal(first.stats().spool.unacked, 501);
  assert.equal(first.stats().malformed, 1);

  await nats.restart();
  const second = new JetStreamPublisher({ natsUrl: nats.url, region: "eu", spoolDir, reconnectTimeWaitMs: 250 });
  await second.start();
  defer(() => second.close());
  assert.equal(second.stats().spool.unacked, 501);
  await waitFor(() => second.drained, "spool replayed", 30_000);
  const nc = await connect({ servers: nats.url });
  defer(() => nc.close());
  assert.equal(await streamCount(nc), 501);
  const jsm = await jetstreamManager(nc);
  const last = await jsm.streams.getMessage(MINING_EVENTS_STREAM, { last_by_subj: "mining.events.eu.block_found" });
  assert.equal((last!.json() as { event_id: string }).event_id, block.event_id);
});

test("re-sending already published events (crash before the cursor was saved) stores nothing twice", async (t) => {
  const defer = cleanups(t);
  const nats = await startNats();
  defer(() => nats.close());
  const dir = await tempDir(defer);
  const events = makeShares(200);
  for (const run of [1, 2]) {
    // A fresh spool each run: the second run re-publishes everything, as after losing the cursor.
    const pub = new JetStreamPublisher({ natsUrl: nats.url, region: "eu", spoolDir: join(dir, `spool${run}`) });
    await pub.start();
    for (const e of events) pub.ingest(Buffer.from(JSON.stringify(e)));
    await waitFor(() => pub.drained, `run ${run} drained`);
    if (run === 2) assert.equal(pub.stats().forwarder.duplicates, 200);
    await pub.close();
  }
  const nc = await connect({ servers: nats.url });
  defer(() => nc.close());
  assert.equal(await streamCount(nc), 200);
});

test("a stream deleted under a connected publisher is re-created, the retained events are published again, and publishing continues", async (t) => {
  const defer = cleanups(t);
  const nats = await startNats();
  defer(() => nats.close());
  const dir = await tempDir(defer);
  const pub = new JetStreamPublisher({ natsUrl: nats.url, region: "eu", spoolDir: join(dir, "spool"), publishTimeoutMs: 1_000 });
  await pub.start();
  defer(() => pub.close());
  const events = makeShares(20);
  for (const e of events.slice(0, 10)) pub.ingest(Buffer.from(JSON.stringify(e)));
  await waitFor(() => pub.drained, "first half published");
  const nc = await connect({ servers: nats.url });
  defer(() => nc.close());
  await (await jetstreamManager(nc)).streams.delete(MINING_EVENTS_STREAM);
  for (const e of events.slice(10)) pub.ingest(Buffer.from(JSON.stringify(e)));
  await waitFor(async () => pub.drained && !pub.stats().spool.replayed ? false : pub.drained && (await streamCount(nc).catch(() => 0)) === 20, "both halves in the new stream", 30_000);
  // The first half was acknowledged by the deleted stream: the reset replays it from the retained spool.
  assert.equal(await streamCount(nc), 20);
  assert.ok(pub.stats().forwarder.failedRounds >= 1);
  assert.equal(pub.stats().streamResets, 1);
  assert.match(pub.stats().lastStreamReset!.reason, /re-created/);
});
