import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { once } from "node:events";
import { deflateRawSync } from "node:zlib";
import { RelayServer, type RelayBlockRequest, type RelaySlimBlockRequest } from "../../src/core/relay/server.ts";
import { PrimaryLink, type PrimaryTemplate } from "../../src/core/relay/link.ts";
import { encodeFrame, FrameDecoder, FrameType, type Frame } from "../../src/core/relay/protocol.ts";
import { waitFor } from "../support/wait.ts";

const TOKEN = "relay-test-secret-0123456789";

async function startServer(over: Partial<ConstructorParameters<typeof RelayServer>[0]> = {}) {
  const blocks: RelayBlockRequest[] = [];
  const server = new RelayServer({
    host: "127.0.0.1",
    port: 0,
    pushPort: 0,
    authToken: TOKEN,
    region: "eu",
    instanceId: 0,
    authTimeoutMs: 500,
    submitBlock: async (req) => {
      blocks.push(req);
      return { outcome: "accepted", results: [{ node: "btcd[0]", accepted: true, result: null, latencyMs: 1 }] };
    },
    ...over,
  });
  await server.start();
  return { server, blocks };
}

function startLink(server: RelayServer, token = TOKEN) {
  const link = new PrimaryLink({ host: "127.0.0.1", controlPort: server.ports.control, pushPort: server.ports.push, authToken: token, region: "us-east", instanceId: 1, reconnectIntervalMs: 100, pingIntervalMs: 100 });
  const templates: PrimaryTemplate[] = [];
  link.events.on("template", (t) => templates.push(t));
  link.start();
  return { link, templates };
}

/** A raw TCP peer: sends bytes, collects frames until the server closes it. */
async function rawPeer(port: number, localAddress?: string) {
  const socket = net.connect({ port, host: "127.0.0.1", localAddress });
  await once(socket, "connect");
  const decoder = new FrameDecoder();
  const frames: Frame[] = [];
  socket.on("data", (d: Buffer) => frames.push(...decoder.push(d)));
  socket.on("error", () => undefined);
  const closed = once(socket, "close");
  return { socket, frames, closed };
}

test("a relay authenticates on both ports, gets the current template at once and every new one, with seq and latency", async () => {
  const { server } = await startServer();
  server.pushTemplate({ height: 100, previousblockhash: "00".repeat(32) });
  const { link, templates } = startLink(server);
  try {
    await waitFor(() => templates.length === 1 && link.status().control.ready, "first template and control ready");
    assert.equal(templates[0]!.template.height, 100);
    for (let h = 101; h <= 105; h++) server.pushTemplate({ height: h, previousblockhash: "00".repeat(32), transactions: Array.from({ length: 20 }, () => ({ data: "ab".repeat(100) })) });
    await waitFor(() => templates.length === 6, "five pushed templates");
    assert.deepEqual(templates.map((t) => t.templateSeq), [1, 2, 3, 4, 5, 6]);
    assert.ok(templates.every((t) => t.latencyMs >= 0 && t.latencyMs < 5000));
    assert.equal(link.status().templateGaps, 0);
    await waitFor(() => link.status().push.lastRttMs !== null, "an RTT sample");
    const st = server.status();
    assert.equal(st.relays.length, 2);
    assert.deepEqual(st.relays.map((r) => r.region), ["us-east", "us-east"]);
  } finally {
    link.close();
    await server.close();
  }
});

test("a reset link is not ready from that moment (its sockets close a loop turn later), says so once per connection, and reconnects", async () => {
  const { server } = await startServer();
  const { link } = startLink(server);
  const lost: string[] = [];
  link.events.on("lost", (l) => lost.push(l.port));
  try {
    await waitFor(() => link.status().push.ready && link.status().control.ready, "both connections ready");
    link.reset("primary silent");
    // /health reads this right after the relay drops a silent primary: it must not say connected.
    const st = link.status();
    assert.equal(st.push.ready, false);
    assert.equal(st.control.ready, false);
    assert.equal(st.push.connected, false);
    assert.deepEqual(lost.sort(), ["control", "push"]);
    await assert.rejects(link.submitBlock({ hashHex: "ab".repeat(32), height: 7, blockHex: "00".repeat(80) }), /control connection to the primary is down/);
    await waitFor(() => link.status().push.ready && link.status().control.ready, "ready again after the reconnect");
    assert.deepEqual(lost.sort(), ["control", "push"], "the sockets' later close does not report the loss again");
  } finally {
    link.close();
    await server.close();
  }
});

test("a relay's found block goes to the primary's submit path and the outcome comes back", async () => {
  const { server, blocks } = await startServer();
  const { link } = startLink(server);
  try {
    await waitFor(() => link.status().control.ready, "control ready");
    const answer = await link.submitBlock({ hashHex: "ab".repeat(32), height: 7, blockHex: "00".repeat(80) });
    assert.equal(answer.outcome, "accepted");
    assert.equal(blocks.length, 1);
    assert.equal(blocks[0]!.region, "us-east");
    assert.equal(blocks[0]!.instanceId, 1);
    assert.equal(blocks[0]!.height, 7);
    assert.equal(server.status().blocksFromRelays, 1);
  } finally {
    link.close();
    await server.close();
  }
});

test("slim templates (Stratum worker channel): SlimTemplate frames, also on Welcome; a slim block goes to submitSlimBlock; a server without it answers rejected", async () => {
  const slimBlocks: RelaySlimBlockRequest[] = [];
  const { server, blocks } = await startServer({
    submitSlimBlock: async (req) => {
      slimBlocks.push(req);
      return { outcome: "accepted", results: [] };
    },
  });
  const slim = { templateid: 5, height: 100, previousblockhash: "00".repeat(32), merklebranch: ["11".repeat(32)], txcount: 1 };
  server.pushTemplate(slim, { slim: true });
  const { link, templates } = startLink(server);
  const plain = await startServer();
  const other = startLink(plain.server);
  try {
    await waitFor(() => templates.length === 1 && link.status().control.ready, "slim template on Welcome, control ready");
    assert.equal(templates[0]!.slim, true);
    assert.deepEqual(templates[0]!.template, slim);
    server.pushTemplate({ ...slim, templateid: 6, height: 101 }, { slim: true });
    server.pushTemplate({ height: 102, previousblockhash: "00".repeat(32), transactions: [] });
    await waitFor(() => templates.length === 3, "two more templates");
    assert.deepEqual(templates.map((t) => t.slim), [true, true, false]);
    const answer = await link.submitBlock({ hashHex: "ab".repeat(32), height: 101, templateId: 6, headerHex: "cd".repeat(80), coinbaseHex: "ef".repeat(60) });
    assert.equal(answer.outcome, "accepted");
    assert.equal(blocks.length, 0, "not the whole-block path");
    assert.deepEqual(slimBlocks, [{ region: "us-east", instanceId: 1, hashHex: "ab".repeat(32), height: 101, templateId: 6, headerHex: "cd".repeat(80), coinbaseHex: "ef".repeat(60) }]);
    await waitFor(() => other.link.status().control.ready, "control ready (plain server)");
    const refused = await other.link.submitBlock({ hashHex: "ab".repeat(32), height: 101, templateId: 6, headerHex: "cd".repeat(80), coinbaseHex: "ef".repeat(60) });
    assert.equal(refused.outcome, "rejected");
    assert.match(JSON.stringify(refused.results), /does not assemble blocks from slim templates/);
    assert.equal(plain.blocks.length, 0);
  } finally {
    link.close();
    other.link.close();
    await server.close();
    await plain.server.close();
  }
});

test("no token, wrong token, garbage, a non-Hello first frame, slowloris and too many peers are refused and counted; the good relay keeps being served", async () => {
  const { server } = await startServer({ maxPeers: 6 });
  const refusals: string[] = [];
  server.events.on("refused", (r) => refusals.push(r.reason));
  const { link, templates } = startLink(server);
  try {
    await waitFor(() => link.status().push.ready && link.status().control.ready, "good relay ready");
    // Wrong token: a PrimaryLink with the wrong secret is told so (on both its connections: 2 refusals).
    const bad = startLink(server, "not-the-secret-at-all!!");
    const refused = await new Promise<{ code: string }>((r) => bad.link.events.once("refused", r));
    bad.link.close();
    assert.equal(refused.code, "RELAY_BAD_TOKEN");
    // Garbage.
    const g = await rawPeer(server.ports.push);
    g.socket.write("GET / HTTP/1.1\r\nHost: primary\r\n\r\n");
    await g.closed;
    // Not a Hello first.
    const n = await rawPeer(server.ports.control);
    n.socket.write(encodeFrame(FrameType.BlockSubmit, 1, { id: 1, hashHex: "00".repeat(32), blockHex: "00" }));
    await n.closed;
    assert.equal(n.frames[0]?.type, FrameType.Refuse);
    // No token at all (Hello without one).
    const e = await rawPeer(server.ports.push);
    e.socket.write(encodeFrame(FrameType.Hello, 1, { region: "x" }));
    await e.closed;
    // Slowloris: a Hello trickled a byte at a time, too slowly to finish before the auth deadline.
    const s = await rawPeer(server.ports.push);
    const hello = encodeFrame(FrameType.Hello, 1, { token: TOKEN, region: "slow", instanceId: 9 });
    let i = 0;
    const trickle = setInterval(() => !s.socket.destroyed && i < hello.length && s.socket.write(hello.subarray(i, ++i)), 100);
    await s.closed;
    clearInterval(trickle);
    assert.ok(i < hello.length);
    // Pending cap per address (4): a 5th idle socket from 127.0.0.1 evicts the oldest one at once.
    const idle = await Promise.all([0, 1, 2, 3].map(() => rawPeer(server.ports.control)));
    const over = await rawPeer(server.ports.control);
    await idle[0]!.closed;
    for (const p of [...idle, over]) await p.closed; // the rest: their auth deadline
    const st = server.status();
    assert.deepEqual(
      Object.fromEntries(Object.entries(st.refused).sort()),
      { auth_timeout: 5, bad_token: 3, max_pending: 1, not_hello: 1, protocol: 1 },
      JSON.stringify(refusals),
    );
    // The good relay was never dropped and still gets templates.
    assert.equal(link.status().push.connects, 1);
    server.pushTemplate({ height: 200, previousblockhash: "11".repeat(32) });
    await waitFor(() => templates.some((t) => t.template.height === 200), "template after the attacks");
  } finally {
    link.close();
    await server.close();
  }
});

test("a relay that stops reading is dropped as a slow consumer; others are unaffected", async () => {
  const { server } = await startServer({ sendQueueMaxBytes: 256 * 1024 });
  const { link, templates } = startLink(server);
  const stuck = await rawPeer(server.ports.push);
  try {
    stuck.socket.write(encodeFrame(FrameType.Hello, 1, { token: TOKEN, region: "stuck", instanceId: 3 }));
    await waitFor(() => stuck.frames.length > 0 && link.status().push.ready, "both authenticated");
    stuck.socket.pause();
    // Incompressible templates so the kernel buffers fill quickly.
    const { randomBytes } = await import("node:crypto");
    for (let k = 0; k < 60 && !server.status().refused.slow_consumer; k++) {
      server.pushTemplate({ height: 300 + k, previousblockhash: "22".repeat(32), pad: randomBytes(64 * 1024).toString("hex") });
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(server.status().refused.slow_consumer, 1);
    await waitFor(() => templates.length >= 10, "the reading relay keeps receiving");
    assert.equal(link.status().push.connects, 1);
  } finally {
    stuck.socket.destroy();
    link.close();
    await server.close();
  }
});

test("an authenticated relay that goes silent is dropped after the idle timeout", async () => {
  const { server } = await startServer({ idleTimeoutMs: 300 });
  const p = await rawPeer(server.ports.push);
  try {
    p.socket.write(encodeFrame(FrameType.Hello, 1, { token: TOKEN, region: "quiet", instanceId: 4 }));
    await p.closed;
    assert.equal(server.status().refused.idle, 1);
  } finally {
    await server.close();
  }
});

test("32 idle unauthenticated sockets (from several addresses) do not lock a relay out; authenticated relays have their own cap", async () => {
  const { server } = await startServer({ authTimeoutMs: 30_000, maxPeers: 2 });
  const idle: Awaited<ReturnType<typeof rawPeer>>[] = [];
  let link: PrimaryLink | null = null;
  let third: PrimaryLink | null = null;
  try {
    // 8 addresses x 4 sockets, alternating ports: the whole old 32-connection cap, never authenticating.
    for (let i = 0; i < 32; i++) idle.push(await rawPeer(i % 2 ? server.ports.push : server.ports.control, `127.0.0.${2 + (i % 8)}`));
    await waitFor(() => (server.status().refused.max_pending ?? 0) === 16, "16 oldest pending evicted (cap 16)");
    const started = startLink(server);
    link = started.link;
    await waitFor(() => started.link.status().push.ready && started.link.status().control.ready, "the real relay authenticated despite the idle sockets");
    server.pushTemplate({ height: 1, previousblockhash: "00".repeat(32) });
    await waitFor(() => started.templates.length === 1, "template to the relay");
    // A third authenticated connection passes the relay cap (2): refused as max_peers.
    const t = startLink(server);
    third = t.link;
    const refused = await new Promise<{ code: string }>((r) => t.link.events.once("refused", r));
    assert.equal(refused.code, "RELAY_MAX_PEERS");
    assert.equal(started.link.status().push.connects, 1);
    assert.equal(server.status().relays.length, 2);
  } finally {
    third?.close();
    link?.close();
    for (const p of idle) p.socket.destroy();
    await server.close();
  }
});

test("before authentication the primary refuses a compressed frame and a 16 KiB frame from the header (nothing inflated), counted; its relay keeps being served", async () => {
  const { server } = await startServer();
  const refusals: { reason: string; detail: string }[] = [];
  server.events.on("refused", (r) => refusals.push(r));
  const { link, templates } = startLink(server);
  try {
    await waitFor(() => link.status().push.ready && link.status().control.ready, "good relay ready");
    // A compressed Hello (a deflate bomb would be the same header): refused before inflating.
    const bomb = deflateRawSync(Buffer.from(JSON.stringify({ token: TOKEN, pad: "0".repeat(2 * 1024 * 1024) })));
    const head = encodeFrame(FrameType.Hello, 1, { token: TOKEN }).subarray(0, 20);
    head.writeUInt8(1, 2); // compressed flag
    head.writeUInt32BE(bomb.length, 4);
    assert.ok(bomb.length < 4096, `${bomb.length}-byte bomb under the pre-auth limit`);
    const c = await rawPeer(server.ports.push);
    c.socket.write(Buffer.concat([head, bomb]));
    await c.closed;
    assert.equal(c.frames[0]?.type, FrameType.Refuse);
    assert.match(String(c.frames[0]!.body.message), /RELAY_COMPRESSED_BEFORE_AUTH/);
    // A 16 KiB uncompressed frame before Hello is accepted: refused from its header.
    const big = encodeFrame(FrameType.Hello, 1, { token: TOKEN, pad: "x".repeat(16 * 1024) }, Date.now(), { compress: false });
    const b = await rawPeer(server.ports.control);
    b.socket.write(big.subarray(0, 20)); // the header alone is enough
    await b.closed;
    assert.match(String(b.frames[0]!.body.message), /RELAY_FRAME_TOO_LARGE.*4096-byte limit/);
    assert.deepEqual(refusals.map((r) => r.reason), ["protocol", "protocol"]);
    assert.equal(server.status().refused.protocol, 2);
    // After authentication the full limit applies: a large (compressed) block submission goes through.
    const answer = await link.submitBlock({ hashHex: "ab".repeat(32), height: 7, blockHex: "00".repeat(64 * 1024) });
    assert.equal(answer.outcome, "accepted");
    assert.equal(link.status().push.connects, 1);
    server.pushTemplate({ height: 9, previousblockhash: "00".repeat(32) });
    await waitFor(() => templates.some((t) => t.template.height === 9), "template after the refusals");
  } finally {
    link.close();
    await server.close();
  }
});
