/**
 * The collector's JetStream input notices what it cannot recover itself and says so, against a real
 * nats-server and PostgreSQL: the stream reset under it (nats-server restarted with an empty store),
 * messages removed before it read them (a sequence gap), and a NATS outage (warn lines while it lasts).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import pino from "pino";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Collector } from "../../src/pipeline/collector/collector.ts";
import { DURABLE_CONSUMERS, MINING_EVENTS_STREAM, ensureDurableConsumer, ensureEventStream, eventSubject } from "../../src/pipeline/nats/jetstream.ts";
import type { MiningEvent } from "../../src/pipeline/events/types.ts";
import { startNats, startPostgres, type PostgresServer } from "../support/servers.ts";
import { emptyDatabase } from "../support/reset.ts";
import { BASE_US, makeShares, waitFor } from "../storage/fixtures.ts";

let pg: PostgresServer;
before(async () => {
  pg = await startPostgres();
});
after(async () => {
  await pg.close();
});

function logLines() {
  const lines: Array<{ level: number; msg: string; [k: string]: unknown }> = [];
  const log = pino({ level: "info", base: undefined }, { write: (l: string) => void lines.push(JSON.parse(l)) });
  return { log, warns: () => lines.filter((l) => l.level === 40) };
}

async function publish(url: string, events: readonly MiningEvent[]): Promise<void> {
  const nc = await connect({ servers: url });
  try {
    const js = jetstream(nc);
    for (const e of events) await js.publish(eventSubject(e.region, e.event), JSON.stringify(e), { msgID: e.event_id });
  } finally {
    await nc.close();
  }
}

async function health(url: string): Promise<{ status: string; problems: string[] }> {
  return (await (await fetch(`${url}/health`)).json()) as { status: string; problems: string[] };
}

test("a stream reset under a running collector is reported: warn log, /health problem, metric", async (t) => {
  await emptyDatabase(pg.url);
  const nats = await startNats();
  t.after(() => nats.close());
  const { log, warns } = logLines();
  const collector = new Collector({ natsUrl: nats.url, databaseUrl: pg.url, batch: { flushIntervalMs: 100 }, defaultMetrics: false, http: { host: "127.0.0.1", port: 0 }, log, nats: { reconnectTimeWaitMs: 100 } });
  await collector.start();
  t.after(() => collector.close());
  assert.ok(await collector.natsConsuming(20_000));
  await publish(nats.url, makeShares(50, { startUs: BASE_US + 3_600_000_000 }));
  await waitFor(() => collector.stats().batcher.stored === 50, "50 stored");
  assert.equal((await health(collector.httpUrl!)).status, "ok");

  await nats.stop({ kill: true });
  await rm(join(nats.dir, "js"), { recursive: true, force: true });
  await nats.restart();
  await waitFor(() => collector.stats().nats!.streamResets === 1, "the reset noticed", 30_000);
  await waitFor(() => collector.stats().nats!.consuming, "consuming the new stream", 30_000);
  const line = warns().find((l) => l.msg === "JetStream stream reset");
  assert.ok(line, JSON.stringify(warns()));
  assert.match(String(line.detail), /re-created/);
  const h = await health(collector.httpUrl!);
  assert.equal(h.status, "degraded");
  assert.ok(h.problems.some((p) => /JetStream stream reset/.test(p)), h.problems.join("; "));
  const metrics = await (await fetch(`${collector.httpUrl}/metrics`)).text();
  assert.match(metrics, /tbg_collector_nats_stream_resets_total 1/);
  // NATS was down for a moment: that was said at warn too.
  assert.ok(warns().some((l) => l.msg === "NATS error" && /connection lost/.test(String(l.error))), JSON.stringify(warns()));
});

test("messages removed before the collector read them are reported as a sequence gap with their count", async (t) => {
  await emptyDatabase(pg.url);
  const nats = await startNats();
  t.after(() => nats.close());
  const nc = await connect({ servers: nats.url });
  t.after(() => nc.close());
  await ensureEventStream(nc);
  for (const name of DURABLE_CONSUMERS) await ensureDurableConsumer(nc, { name });
  const events = makeShares(10, { startUs: BASE_US + 7_200_000_000 });
  await publish(nats.url, events);
  const jsm = await jetstreamManager(nc);
  for (const seq of [4, 5, 6]) await jsm.streams.deleteMessage(MINING_EVENTS_STREAM, seq);
  const { log, warns } = logLines();
  const collector = new Collector({ natsUrl: nats.url, databaseUrl: pg.url, batch: { flushIntervalMs: 100 }, defaultMetrics: false, http: { host: "127.0.0.1", port: 0 }, log });
  await collector.start();
  t.after(() => collector.close());
  await waitFor(() => collector.stats().batcher.stored === 7, "7 stored");
  const s = collector.stats().nats!;
  assert.deepEqual([s.sequenceGaps, s.missedMessages, s.streamResets], [1, 3, 0]);
  assert.ok(warns().some((l) => /sequence gap/.test(l.msg) && l.missed === 3), JSON.stringify(warns()));
  const metrics = await (await fetch(`${collector.httpUrl}/metrics`)).text();
  assert.match(metrics, /tbg_collector_nats_sequence_gap_messages_total 3/);
  assert.ok((await health(collector.httpUrl!)).problems.some((p) => /sequence gap \(3 messages\)/.test(p)));
});

test("a NATS outage is logged at warn while it lasts, not only when events stop", async (t) => {
  await emptyDatabase(pg.url);
  const nats = await startNats();
  t.after(() => nats.close());
  const { log, warns } = logLines();
  const collector = new Collector({ natsUrl: nats.url, databaseUrl: pg.url, defaultMetrics: false, http: null, log, nats: { outageWarnMs: 300, reconnectTimeWaitMs: 100 } });
  await collector.start();
  t.after(() => collector.close());
  assert.ok(await collector.natsConsuming(20_000));
  await nats.stop();
  await waitFor(() => warns().some((l) => /NATS unreachable for \d+ s/.test(String(l.error))), "an outage warning", 20_000);
  assert.ok(collector.stats().nats!.disconnectedSinceMs !== null);
  await nats.restart();
  await waitFor(() => collector.stats().nats!.disconnectedSinceMs === null, "reconnected", 30_000);
});
