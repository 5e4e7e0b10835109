/**
 * Stream-reset replays against a real nats-server: a reset found while the publisher is idle is
 * replayed at once; a reset found by "last sequence below what was acknowledged" is one reset and one
 * replay; and a publisher stopped before its replay was acknowledged resumes it after a restart.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { JetStreamPublisher } from "../../src/pipeline/nats/publisher.ts";
import { MINING_EVENTS_STREAM } from "../../src/pipeline/nats/jetstream.ts";
import { startNats } from "../support/servers.ts";
import { BASE_US, makeShares, waitFor } from "../storage/fixtures.ts";

async function streamMessages(url: string): Promise<number> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    return (await jsm.streams.info(MINING_EVENTS_STREAM)).state.messages;
  } finally {
    await nc.close();
  }
}

test("a reset found while the publisher is idle is replayed without waiting for a new event", async (t) => {
  const nats = await startNats();
  const dir = await mkdtemp(join(tmpdir(), "tbg-replay-"));
  const resets: string[] = [];
  const pub = new JetStreamPublisher({ natsUrl: nats.url, region: "eu", spoolDir: dir, reconnectTimeWaitMs: 100, onStreamReset: (r) => resets.push(r) });
  await pub.start();
  t.after(async () => {
    await pub.close();
    await rm(dir, { recursive: true, force: true });
    await nats.close();
  });
  for (const e of makeShares(100, { startUs: BASE_US })) pub.ingest(Buffer.from(JSON.stringify(e)));
  await waitFor(() => pub.stats().forwarder.published === 100 && pub.drained, "100 published", 30_000);
  await nats.stop({ kill: true });
  await rm(join(nats.dir, "js"), { recursive: true });
  await nats.restart();
  await waitFor(() => resets.length >= 1, "reset noticed", 30_000);
  // No new event: the replay must run on its own.
  await waitFor(() => pub.stats().spool.replayed >= 100, "replayed", 30_000);
  await waitFor(async () => (await streamMessages(nats.url)) === 100, "stream holds the 100 again", 30_000, 200);
});

test("a stream that lost its tail (same stream, lower last sequence) is one reset and one replay", async (t) => {
  const nats = await startNats();
  const dir = await mkdtemp(join(tmpdir(), "tbg-replay-"));
  const resets: string[] = [];
  const pub = new JetStreamPublisher({ natsUrl: nats.url, region: "eu", spoolDir: dir, reconnectTimeWaitMs: 100, onStreamReset: (r) => resets.push(r) });
  await pub.start();
  t.after(async () => {
    await pub.close();
    await rm(dir, { recursive: true, force: true });
    await nats.close();
  });
  const ev = makeShares(251, { startUs: BASE_US });
  for (const e of ev.slice(0, 20)) pub.ingest(Buffer.from(JSON.stringify(e)));
  await waitFor(() => pub.stats().forwarder.published === 20, "20", 30_000);
  await nats.stop();
  await cp(join(nats.dir, "js"), join(nats.dir, "js-old"), { recursive: true });
  await nats.restart();
  for (const e of ev.slice(20, 250)) pub.ingest(Buffer.from(JSON.stringify(e)));
  await waitFor(() => pub.stats().forwarder.published >= 250 && pub.drained, "250", 30_000);
  await nats.stop({ kill: true });
  await rm(join(nats.dir, "js"), { recursive: true });
  await cp(join(nats.dir, "js-old"), join(nats.dir, "js"), { recursive: true });
  await nats.restart();
  await waitFor(() => resets.length >= 1, "reset", 30_000);
  await waitFor(async () => (await streamMessages(nats.url)) === 250, "stream holds the 250 again", 30_000, 200);
  pub.ingest(Buffer.from(JSON.stringify(ev[250])));
  await waitFor(() => pub.drained && pub.stats().forwarder.published >= 250 + 230 + 1, "new event published", 30_000);
  assert.equal(resets.length, 1, `one reset, got: ${resets.join(" | ")}`);
  assert.equal(pub.stats().spool.replays, 1);
  assert.equal(await streamMessages(nats.url), 251);
});

test("a publisher stopped before its replay was acknowledged resumes the replay after a restart", async (t) => {
  const nats = await startNats();
  const dir = await mkdtemp(join(tmpdir(), "tbg-replay-"));
  const N = 3000;
  let closing: Promise<void> | undefined;
  let pub: JetStreamPublisher = new JetStreamPublisher({
    natsUrl: nats.url, region: "eu", spoolDir: dir, reconnectTimeWaitMs: 100, window: 64,
    onStreamReset: () => (closing ??= pub.close()), // stopped the moment the reset is found
  });
  await pub.start();
  for (const e of makeShares(N, { startUs: BASE_US })) pub.ingest(Buffer.from(JSON.stringify(e)));
  await waitFor(() => pub.stats().forwarder.published === N && pub.drained, "all published", 60_000);
  await nats.stop({ kill: true });
  await rm(join(nats.dir, "js"), { recursive: true });
  await nats.restart();
  await waitFor(() => closing !== undefined, "reset noticed", 30_000);
  await closing;
  assert.ok((await streamMessages(nats.url)) < N, "the first run did not finish the replay");
  const resets: string[] = [];
  pub = new JetStreamPublisher({ natsUrl: nats.url, region: "eu", spoolDir: dir, reconnectTimeWaitMs: 100, onStreamReset: (r) => resets.push(r) });
  await pub.start();
  t.after(async () => {
    await pub.close();
    await rm(dir, { recursive: true, force: true });
    await nats.close();
  });
  await waitFor(async () => (await streamMessages(nats.url)) === N, "the restarted publisher replayed everything", 60_000, 200);
  assert.equal(resets.length, 1);
  assert.match(resets[0], /resuming/);
});
