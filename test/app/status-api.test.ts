/**
 * The pool's status page and `/api/status` against a real pool (embedded regtest node, real sockets):
 * the document matches its schema, hostile worker names and user agents come out inert, addresses are
 * shown as `health.address_display` says, no secret appears, the page is self-contained.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { startTestPool, type TestPool } from "../support/pool.ts";
import { RawClient } from "../support/stratum.ts";
import { REGTEST_ADDRESSES } from "../support/addresses.ts";
import { startMiner } from "../../src/client/miner/miner.ts";
import { PoolStatusSchema, type PoolStatus } from "../../src/app/status-api.ts";
import { configSecrets, scrubSecrets } from "../../src/app/status-snapshot.ts";
import { AddressMask, displaySafe } from "../../src/util/text.ts";
import { waitFor } from "../storage/fixtures.ts";
import { HOSTILE_AGENT, HOSTILE_WORKER } from "../support/hostile.ts";
import type { DevOverrides } from "../../src/config/load.ts";

const ADDRESS = REGTEST_ADDRESSES.p2wpkh;

async function withPool(overrides: DevOverrides, fn: (pool: TestPool, base: string) => Promise<void>): Promise<void> {
  const pool = await startTestPool({ overrides: { health: { enabled: true, host: "127.0.0.1", port: 0 }, ...overrides } });
  try {
    await fn(pool, pool.app.obs.health!.url);
  } finally {
    await pool.close();
  }
}

async function getStatus(base: string, query = ""): Promise<{ res: Response; text: string; doc: PoolStatus }> {
  const res = await fetch(`${base}/api/status${query}`);
  const text = await res.text();
  return { res, text, doc: JSON.parse(text) as PoolStatus };
}

test("GET /api/status matches its schema with a live miner, a hostile connection and a found block; hostile strings are inert", async () => {
  await withPool({}, async (pool, base) => {
    const hostile = await RawClient.connect(pool.port);
    try {
      await hostile.request("mining.subscribe", [HOSTILE_AGENT]);
      const auth = await hostile.request("mining.authorize", [`${ADDRESS}.${HOSTILE_WORKER}`, "x"]);
      assert.equal(auth.result, true);
      const miner = await startMiner({ url: pool.url, user: `${ADDRESS}.rig1`, maxBlocks: 1, threads: 0, durationSec: 60 });
      const stats = await miner.done;
      assert.equal(stats.blocksFound, 1);
      await waitFor(async () => (await getStatus(base)).doc.blocks.length === 1, "the block in /api/status", 10_000, 200);

      const { res, text, doc } = await getStatus(base, "?miners=50");
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff");
      const parsed = PoolStatusSchema.safeParse(doc);
      assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
      assert.doesNotMatch(text, /[<>]/, "markup characters are \\u-escaped in the JSON text");

      const row = doc.miners.rows.find((m) => m.worker?.startsWith("x<script>"));
      assert.ok(row, "the hostile connection is listed");
      assert.equal(row.worker, displaySafe(HOSTILE_WORKER));
      assert.ok(!row.worker.includes("\u0000") && !row.worker.includes("\u202e"));
      assert.equal(row.user_agent, displaySafe(HOSTILE_AGENT));
      assert.ok(!(row.user_agent ?? "").includes("\u001b") && !(row.user_agent ?? "").includes("\u202e"));
      assert.equal(row.address, `${ADDRESS.slice(0, 6)}…${ADDRESS.slice(-4)}`, "short addresses by default");

      const block = doc.blocks[0];
      assert.equal(block.worker, "rig1");
      assert.equal(block.accepted, true);
      assert.equal(block.results[0].accepted, true);
      assert.equal(doc.totals.blocks_found, 1);
      assert.ok(doc.best.all_time[0].difficulty > 0, "an all-time best");
      assert.equal(doc.best.this_week[0].worker, "rig1");
      assert.match(doc.best.week, /^\d{4}-W\d{2}$/);
      assert.equal(doc.pool.status, "ok");
      assert.equal(doc.pool.address_display, "short");
      assert.ok(!text.includes(ADDRESS), "the full address never appears with address_display short");
      assert.ok(!text.includes(pool.node.rpcPass), "no RPC password");
      assert.doesNotMatch(text, /"ip"/, "no IP addresses");
    } finally {
      hostile.socket.destroy();
    }
  });
});

test("address_display full shows addresses; hidden shows a stable pseudonym and never the address", async () => {
  for (const display of ["full", "hidden"] as const) {
    await withPool({ health: { enabled: true, host: "127.0.0.1", port: 0, address_display: display } }, async (pool, base) => {
      const c = await RawClient.connect(pool.port);
      try {
        await c.handshake(`${ADDRESS}.w1`);
        const a = await getStatus(base);
        const b = await getStatus(base, "?miners=10");
        const row = a.doc.miners.rows.find((m) => m.worker === "w1");
        assert.ok(row);
        if (display === "full") assert.equal(row.address, ADDRESS);
        else {
          assert.match(row.address ?? "", /^miner-[0-9a-f]{8}$/);
          assert.equal(b.doc.miners.rows.find((m) => m.worker === "w1")?.address, row.address, "stable across requests");
          assert.ok(!a.text.includes(ADDRESS) && !a.text.includes(ADDRESS.slice(-10)));
          // hidden reaches /health too (the block's finder), with the same pseudonym.
          const miner = await startMiner({ url: pool.url, user: `${ADDRESS}.w2`, maxBlocks: 1, threads: 0, durationSec: 60 });
          assert.equal((await miner.done).blocksFound, 1);
          let health = "";
          await waitFor(async () => (health = await (await fetch(`${base}/health`)).text()).includes('"last_block": {'), "the block in /health", 10_000, 100);
          assert.equal((JSON.parse(health) as { last_block: { user: string } }).last_block.user, row.address);
          assert.ok(!health.includes(ADDRESS));
        }
      } finally {
        c.socket.destroy();
      }
    });
  }
});

test("the page is self-contained: inline script and style allowed by hash only, no external URL, text-only rendering", async () => {
  await withPool({}, async (_pool, base) => {
    const res = await fetch(`${base}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
    const csp = res.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'sha256-[A-Za-z0-9+/=]+'(;|$)/);
    assert.match(csp, /connect-src 'self'/);
    const html = await res.text();
    assert.doesNotMatch(html, /https?:\/\/|src=["']?\/\//, "no external URL");
    assert.doesNotMatch(html, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/, "text nodes only");
    const head = await fetch(`${base}/`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
  });
});

test("bad ?miners= is a 400 naming the parameter; health.status_page false serves neither / nor /api/status", async () => {
  await withPool({}, async (_pool, base) => {
    for (const q of ["abc", "-1", "5001", "1.5"]) {
      const res = await fetch(`${base}/api/status?miners=${q}`);
      assert.equal(res.status, 400, q);
      const body = (await res.json()) as { code: string; error: string };
      assert.equal(body.code, "BAD_QUERY");
      assert.match(body.error, /^miners must be an integer/);
    }
    const zero = await getStatus(base, "?miners=0");
    assert.deepEqual(zero.doc.miners.rows, []);
  });
  await withPool({ health: { enabled: true, host: "127.0.0.1", port: 0, status_page: false } }, async (_pool, base) => {
    assert.equal((await fetch(`${base}/`)).status, 404);
    assert.equal((await fetch(`${base}/api/status`)).status, 404);
    assert.equal((await fetch(`${base}/health`)).status, 200, "/health is still there");
  });
});

test("secrets: config passwords and tokens, and URL user-info, are scrubbed from every string", () => {
  const secrets = configSecrets({
    btcd: [{ pass: "rpc-secret-1234" }, { pass: null }],
    events: { nats: { token: "nats-token-abcdef", pass: null } },
    primary: null,
    relay_server: { auth_token: "relay-token-0123456789" },
  } as unknown as Parameters<typeof configSecrets>[0]);
  assert.deepEqual(new Set(secrets), new Set(["rpc-secret-1234", "nats-token-abcdef", "relay-token-0123456789"]));
  const doc = scrubSecrets({ a: "error: auth rpc-secret-1234 refused", b: ["nats://user:pw@nats.example:4222"], c: { "nats:nats-token-abcdef@x": 1 }, n: 3 }, secrets);
  assert.deepEqual(doc, { a: "error: auth … refused", b: ["nats://nats.example:4222"], c: { "nats:…@x": 1 }, n: 3 });
});

test("AddressMask: full, short (first 6 … last 4), hidden (keyed pseudonym per process)", () => {
  const a = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq";
  assert.equal(new AddressMask("full").show(a), a);
  assert.equal(new AddressMask("short").show(a), "bc1qar…5mdq");
  const h1 = new AddressMask("hidden");
  const h2 = new AddressMask("hidden");
  assert.match(h1.show(a), /^miner-[0-9a-f]{8}$/);
  assert.equal(h1.show(a), h1.show(a));
  assert.notEqual(h1.show(a), h2.show(a), "a different key per process");
  assert.equal(new AddressMask("full").show("bc1\u202eq\u0000"), "bc1\ufffdq\ufffd");
});

test("displaySafe replaces control and bidi characters and clips", () => {
  assert.equal(displaySafe("a\u0000b\u001b[31mc\u202ed\u2066e\u0085f"), "a\ufffdb\ufffd[31mc\ufffdd\ufffde\ufffdf");
  assert.equal(displaySafe("<script>\"'&"), "<script>\"'&", "markup is left to the renderer (text nodes)");
  assert.equal(displaySafe("x".repeat(200), 10), `${"x".repeat(9)}…`);
});
