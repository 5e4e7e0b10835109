/**
 * ZmqBlockNotifier against real ZMQ publishers (the embedded node's HashblockPublisher, Bitcoin Core's
 * format) on free ports: de-duplication across endpoints, a publisher that goes away and comes back,
 * a publisher that falls silent without closing (only heartbeats notice), junk on the topic.
 */
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { once } from "node:events";
import * as zmq from "zeromq";
import { HashblockPublisher } from "../../src/tools/regtest-node/zmq-publisher.ts";
import { ZmqBlockNotifier, type ZmqBlockNotifierOptions } from "../../src/core/bitcoind/zmq-subscriber.ts";
import { TbgError } from "../../src/util/errors.ts";
import { waitFor } from "../support/wait.ts";

/** Short timings so reconnects and heartbeat timeouts happen within a test. */
const FAST = { heartbeatIntervalMs: 100, heartbeatTimeoutMs: 300, heartbeatTtlMs: 1000, reconnectIntervalMs: 50, reconnectMaxIntervalMs: 200, connectTimeoutMs: 500 };

const H = (n: number) => n.toString(16).padStart(2, "0").repeat(32);

function notifier(endpoints: string[], extra: Partial<ZmqBlockNotifierOptions> = {}) {
  const blocks: Array<{ hashHex: string; endpoint: string }> = [];
  const reconnects: string[] = [];
  const n = new ZmqBlockNotifier({
    ...FAST,
    endpoints: endpoints.map((endpoint) => ({ endpoint })),
    onBlock: (hashHex, endpoint) => blocks.push({ hashHex, endpoint }),
    onReconnect: (endpoint) => reconnects.push(endpoint),
    ...extra,
  });
  const transitions: string[] = [];
  n.events.on("connected", (e) => transitions.push(`${e.reconnected ? "reconnected" : "connected"} ${e.endpoint}`));
  n.events.on("disconnected", (e) => transitions.push(`disconnected ${e.endpoint}`));
  const state = (endpoint: string) => n.status().find((s) => s.endpoint === endpoint)!;
  return { n, blocks, reconnects, transitions, state };
}

/** A TCP relay in front of a publisher that can go silent without closing anything (a hung host). */
async function freezableRelay(targetPort: number) {
  let frozen = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => {});
    if (frozen) return; // accepts, says nothing
    const upstream = net.connect(targetPort, "127.0.0.1");
    sockets.add(upstream);
    upstream.on("close", () => sockets.delete(upstream));
    upstream.on("error", () => client.destroy());
    client.on("close", () => upstream.destroy());
    client.on("data", (d) => {
      if (!frozen) upstream.write(d);
    });
    upstream.on("data", (d) => {
      if (!frozen) client.write(d);
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    endpoint: `tcp://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    freeze: () => (frozen = true),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

describe("ZmqBlockNotifier", () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });
  async function publisher() {
    const p = new HashblockPublisher({ port: 0 });
    await p.start();
    cleanups.push(() => p.dispose());
    return p;
  }

  it("subscribes to every endpoint; the first copy of a block is acted on once, the others are counted with their lag", async () => {
    const [p1, p2] = [await publisher(), await publisher()];
    const { n, blocks, state, transitions } = notifier([p1.endpoint, p2.endpoint]);
    cleanups.push(() => n.close());
    n.start();
    await Promise.all([p1.waitForSubscriptions(1), p2.waitForSubscriptions(1)]);
    await waitFor(() => state(p1.endpoint).connected && state(p2.endpoint).connected, "both connected", 5_000);
    assert.deepEqual(transitions.sort(), [`connected ${p1.endpoint}`, `connected ${p2.endpoint}`].sort());

    await p2.publishHashblock(H(1));
    await waitFor(() => blocks.length === 1, "first notification");
    await p1.publishHashblock(H(1));
    await waitFor(() => state(p1.endpoint).messages === 1, "the copy from endpoint 1");
    assert.deepEqual(blocks, [{ hashHex: H(1), endpoint: p2.endpoint }]);

    await p1.publishHashblock(H(2));
    await waitFor(() => blocks.length === 2, "second block");
    await p2.publishHashblock(H(2));
    await waitFor(() => state(p2.endpoint).messages === 2, "the copy from endpoint 2");
    assert.deepEqual(blocks[1], { hashHex: H(2), endpoint: p1.endpoint });
    assert.equal(blocks.length, 2, "copies never acted on");

    const s1 = state(p1.endpoint);
    const s2 = state(p2.endpoint);
    assert.deepEqual([s1.messages, s1.first, s1.duplicates], [2, 1, 1]);
    assert.deepEqual([s2.messages, s2.first, s2.duplicates], [2, 1, 1]);
    assert.ok(s1.avgLagMs !== null && s1.avgLagMs >= 0);
    assert.ok(s1.lastMessageAtMs !== null && Date.now() - s1.lastMessageAtMs < 5_000);
    assert.equal(s1.failuresTotal, 0);
    assert.equal(s1.lastSequence, 1);
  });

  it("a closed publisher shows disconnected; reopened, it reconnects by itself and notifications resume", async () => {
    const [p1, p2] = [await publisher(), await publisher()];
    const { n, blocks, state, reconnects } = notifier([p1.endpoint, p2.endpoint]);
    cleanups.push(() => n.close());
    n.start();
    await waitFor(() => state(p1.endpoint).connected && state(p2.endpoint).connected, "both connected", 5_000);

    await p1.close();
    await waitFor(() => state(p1.endpoint).state === "disconnected", "endpoint 1 disconnected", 5_000);
    assert.equal(state(p1.endpoint).failures.disconnects, 1);
    await p2.publishHashblock(H(3));
    await waitFor(() => blocks.some((b) => b.hashHex === H(3)), "notification through endpoint 2");
    assert.equal(blocks.at(-1)?.endpoint, p2.endpoint);

    const subs = p1.subscriptionCount;
    await p1.start();
    await p1.waitForSubscriptions(subs + 1, 5_000);
    await waitFor(() => state(p1.endpoint).connected, "endpoint 1 reconnected", 5_000);
    assert.deepEqual(reconnects, [p1.endpoint], "reconnect reported (the caller re-checks the tip)");
    assert.ok(state(p1.endpoint).reconnectAttempts >= 1);
    await p1.publishHashblock(H(4));
    await waitFor(() => blocks.some((b) => b.hashHex === H(4) && b.endpoint === p1.endpoint), "notification through endpoint 1 again");
  });

  it("notices a publisher that falls silent without closing (ZMTP heartbeat timeout)", async () => {
    const p = await publisher();
    const relay = await freezableRelay(p.port);
    cleanups.push(() => relay.close());
    const { n, state, transitions } = notifier([relay.endpoint]);
    cleanups.push(() => n.close());
    n.start();
    await waitFor(() => state(relay.endpoint).connected, "connected through the relay", 5_000);
    relay.freeze();
    const t0 = Date.now();
    await waitFor(() => state(relay.endpoint).state === "disconnected", "heartbeat timeout", 5_000);
    assert.ok(Date.now() - t0 < 3_000, `noticed after ${Date.now() - t0} ms`);
    assert.deepEqual(transitions, [`connected ${relay.endpoint}`, `disconnected ${relay.endpoint}`]);
  });

  it("counts junk on the hashblock topic and sequence gaps as failures without acting on junk", async () => {
    const pub = new zmq.Publisher({ linger: 0 });
    await pub.bind("tcp://127.0.0.1:*");
    cleanups.push(() => pub.close());
    const endpoint = pub.lastEndpoint!;
    const { n, blocks, state } = notifier([endpoint]);
    cleanups.push(() => n.close());
    const decodeErrors: number[][] = [];
    n.events.on("decodeError", (e) => decodeErrors.push(e.sizes));
    n.start();
    // A plain PUB shows no subscriptions: publish until a message gets through (slow joiner), then a
    // marker: messages on one connection arrive in order, so once the marker is in, nothing else is pending.
    const seq = (v: number) => Buffer.from(Uint32Array.of(v).buffer);
    let next = 0;
    await waitFor(async () => {
      await pub.send(["hashblock", Buffer.from(H(100 + next), "hex"), seq(next)]);
      next++;
      return blocks.length > 0;
    }, "first message through", 5_000, 50);
    const marker = next++;
    await pub.send(["hashblock", Buffer.from(H(100 + marker), "hex"), seq(marker)]);
    await waitFor(() => blocks.some((b) => b.hashHex === H(100 + marker)), "marker");
    const base = state(endpoint);
    await pub.send(["hashblock", Buffer.alloc(31), seq(next)]);
    await pub.send(["hashblock", Buffer.from(H(6), "hex"), seq(marker + 5)]);
    await waitFor(() => state(endpoint).messages === base.messages + 1, "the message after the junk");
    const s = state(endpoint);
    assert.deepEqual(decodeErrors.at(-1), [9, 31, 4]);
    assert.equal(s.failures.decodeErrors, 1);
    assert.equal(s.failures.sequenceGaps, base.failures.sequenceGaps + 1);
    assert.equal(s.failures.missed, base.failures.missed + 4);
    assert.equal(blocks.at(-1)?.hashHex, H(6));
    assert.ok(!blocks.some((b) => b.hashHex.length !== 64));
  });

  it("refuses an endpoint libzmq cannot parse with ZMQ_ENDPOINT", () => {
    const n = new ZmqBlockNotifier({ endpoints: [{ endpoint: "tcp://no-port" }], onBlock: () => {} });
    assert.throws(() => n.start(), (err: unknown) => err instanceof TbgError && err.code === "ZMQ_ENDPOINT");
  });
});
