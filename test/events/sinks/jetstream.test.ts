/**
 * The engine's direct JetStream sink against a real nats-server: every event lands once on
 * mining.events.{region}.{type} with Nats-Msg-Id = event_id, including events emitted while NATS is down.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { startNats } from "../../support/servers.ts";
import { waitFor } from "../../support/wait.ts";
import { JetStreamSink } from "../../../src/pipeline/nats/jetstream-sink.ts";
import { MiningEventEmitter } from "../../../src/pipeline/events/emitter.ts";
import { createEventFactory } from "../../../src/pipeline/events/envelope.ts";
import { EXAMPLE_DATA } from "../fixtures.ts";
import { MINING_EVENTS_STREAM } from "../../../src/pipeline/nats/jetstream.ts";

test("events reach the stream exactly once, across a NATS outage, spooled while it is down", async () => {
  const nats = await startNats();
  const dir = await mkdtemp(join(tmpdir(), "tbg-jssink-"));
  const sink = new JetStreamSink({ natsUrl: nats.url, region: "us-east", spoolDir: dir, publisher: { reconnectTimeWaitMs: 100, publishTimeoutMs: 1000 } });
  const publisher = new MiningEventEmitter({ factory: createEventFactory({ region: "us-east", instance: "t" }), sinks: [sink] });
  await publisher.start();
  const nc = await connect({ servers: nats.url });
  try {
    const jsm = await jetstreamManager(nc);
    const count = async () => (await jsm.streams.info(MINING_EVENTS_STREAM)).state.messages;
    for (let i = 0; i < 1000; i++) publisher.emit("share_submitted", EXAMPLE_DATA.share_submitted);
    await waitFor(async () => (await count().catch(() => 0)) === 1000, "1000 in the stream", 20_000, 50);
    await nc.close();

    await nats.stop();
    for (let i = 0; i < 500; i++) publisher.emit("share_submitted", EXAMPLE_DATA.share_submitted);
    publisher.emit("block_found", EXAMPLE_DATA.block_found);
    await waitFor(() => sink.stats().state === "congested", "sink notices the outage", 10_000);
    await nats.restart();
    const nc2 = await connect({ servers: nats.url });
    const jsm2 = await jetstreamManager(nc2);
    await waitFor(async () => (await jsm2.streams.info(MINING_EVENTS_STREAM).catch(() => null))?.state.messages === 1501, "1501 in the stream", 30_000, 100);
    const info = await jsm2.streams.info(MINING_EVENTS_STREAM);
    assert.equal(info.state.messages, 1501);
    const subjects = await jsm2.streams.info(MINING_EVENTS_STREAM, { subjects_filter: ">" });
    assert.deepEqual(Object.keys(subjects.state.subjects ?? {}).sort(), ["mining.events.us-east.block_found", "mining.events.us-east.share_submitted"]);
    await nc2.close();
  } finally {
    await publisher.close();
    await nats.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test("with NATS reachable the sink goes idle → ready at start without waiting for traffic, never congested", async () => {
  const nats = await startNats();
  const dir = await mkdtemp(join(tmpdir(), "tbg-jssink-"));
  const sink = new JetStreamSink({ natsUrl: nats.url, region: "eu", spoolDir: dir });
  const states: string[] = [];
  const publisher = new MiningEventEmitter({ factory: createEventFactory({ region: "eu", instance: "t" }), sinks: [sink] });
  publisher.subscribe((u) => {
    if (u.kind === "sink_state") states.push(u.state);
  });
  try {
    await publisher.start();
    // An event before the connection is up (the pool's first new_block_network) must not read as "unreachable".
    publisher.emit("new_block_network", EXAMPLE_DATA.new_block_network);
    await waitFor(() => sink.stats().state === "ready", "ready with no further events", 20_000);
    assert.deepEqual(states, ["ready"]);
    await nats.stop();
    await waitFor(() => sink.stats().state === "congested", "congested once NATS is gone, with no event flowing", 20_000);
  } finally {
    await publisher.close();
    await nats.close();
    await rm(dir, { recursive: true, force: true });
  }
});
