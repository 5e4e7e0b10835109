/**
 * The pool's status page and `/api/status` against a real pool (embedded regtest node, real sockets):
 * the document matches its schema, hostile worker names and user agents come out inert, addresses are
 * shown as `health.address_display` says, no secret appears, the page is self-contained.
 */
import { test } from "node:test";
import { performance } from "node:perf_hooks";
import assert from "node:assert/strict";
import { startTestPool, type TestPool } from "../support/pool.ts";
import { RawClient } from "../support/stratum.ts";
import { REGTEST_ADDRESSES } from "../support/addresses.ts";
import { startMiner } from "../../src/tools/miner/miner.ts";
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
      // short reaches /health too: the finder of the last block is shown as on the page.
      const health = (await (await fetch(`${base}/health`)).json()) as { last_block: { user: string; worker: string } };
      assert.equal(health.last_block.user, `${ADDRESS.slice(0, 6)}…${ADDRESS.slice(-4)}`, "/health masks the finder's address too");
      assert.equal(health.last_block.worker, "rig1");
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
    for (const q of ["abc", "-1", "5001", "1.5", "1e3", "0x10", "%20", "-0", "+5", "%205", "5%20", "", "10000"]) {
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

test("/api/status builds ONE document per cache period whatever ?miners= asks for, and reuses serialized bodies", async () => {
  await withPool({}, async (pool, base) => {
    const counters = pool.app.obs.health!.statusCache;
    const c = await RawClient.connect(pool.port);
    try {
      await c.handshake(`${ADDRESS}.w1`);
      await getStatus(base); // warm: one build
      const t0 = performance.now();
      const b0 = counters.builds;
      const s0 = counters.serializations;
      const docs: PoolStatus[] = [];
      for (let round = 0; round < 2; round++) for (const n of [1, 2, 3, 4, 5]) docs.push((await getStatus(base, `?miners=${n}`)).doc);
      const s1 = counters.serializations;
      const d1 = await getStatus(base);
      const d2 = await getStatus(base);
      const e1 = await getStatus(base, "?miners=7");
      const e2 = await getStatus(base, "?miners=7");
      const s2 = counters.serializations;
      const elapsedMs = performance.now() - t0;
      // The cache period is at least 1 s: 14 requests within `elapsedMs` span at most 1 + elapsed/1000 periods.
      assert.ok(counters.builds - b0 <= 1 + Math.floor(elapsedMs / 1000), `${counters.builds - b0} builds for 14 requests in ${elapsedMs.toFixed(0)} ms`);
      if (counters.builds === b0) {
        assert.equal(new Set([...docs, d1.doc, d2.doc].map((d) => d.generated_at)).size, 1, "one document served to every size");
        assert.ok(s1 - s0 <= 10);
        assert.equal(s2 - s1, 1, "the default size's body (warmed before) is reused; ?miners=7 is serialized once for both requests");
      }
      assert.equal(d1.text, d2.text);
      assert.equal(e1.text, e2.text);
      for (const [i, d] of docs.entries()) assert.ok(d.miners.rows.length <= (i % 5) + 1);
      assert.equal(docs[4].miners.rows[0]?.worker, "w1");
    } finally {
      c.socket.destroy();
    }
  });
});

test("busiest first ranks by accepted work: an idle connection at a high assigned difficulty does not push a mining one off", async () => {
  await withPool({}, async (pool, base) => {
    const idle = await RawClient.connect(pool.port);
    const miner = await startMiner({ url: pool.url, user: `${ADDRESS}.real`, threads: 0, durationSec: 60 });
    try {
      await idle.handshake(`${ADDRESS}.idle`, { suggest: 1_000_000 });
      let all: PoolStatus | null = null;
      await waitFor(async () => {
        all = (await getStatus(base, "?miners=10")).doc;
        const real = all.miners.rows.find((m) => m.worker === "real");
        const hostile = all.miners.rows.find((m) => m.worker === "idle");
        return !!real && real.shares_accepted > 0 && !!hostile && hostile.difficulty > real.difficulty;
      }, "the real miner with accepted shares and the idle one at a higher difficulty", 20_000, 100);
      const top = (await getStatus(base, "?miners=1")).doc;
      assert.equal(top.miners.total, 2);
      assert.equal(top.miners.rows.length, 1);
      assert.equal(top.miners.rows[0].worker, "real", `rows: ${JSON.stringify(all!.miners.rows.map((m) => [m.worker, m.difficulty, m.shares_accepted]))}`);
    } finally {
      idle.socket.destroy();
      await miner.close();
    }
  });
});

test("secrets are scrubbed from server-side strings only: a worker named after a guessed secret is shown as sent (no oracle)", async () => {
  await withPool({}, async (pool, base) => {
    const guess = pool.node.rpcPass;
    const c = await RawClient.connect(pool.port);
    try {
      assert.equal((await c.request("mining.subscribe", [`agent-${guess}`])).error, null);
      assert.equal((await c.request("mining.authorize", [`${ADDRESS}.${guess}`, "x"])).result, true);
      const { doc } = await getStatus(base);
      const row = doc.miners.rows.find((m) => m.user_agent?.startsWith("agent-"));
      assert.ok(row);
      assert.equal(row.worker, displaySafe(guess), "a right guess looks the same as a wrong one");
      assert.equal(row.user_agent, displaySafe(`agent-${guess}`));
    } finally {
      c.socket.destroy();
    }
  });
});

test("secrets shorter than 4 characters are kept and replaced as whole tokens (URLs, error text), not inside other words", () => {
  const secrets = configSecrets({ btcd: [{ pass: "ab" }], events: { nats: null }, primary: null, relay_server: null } as unknown as Parameters<typeof configSecrets>[0]);
  assert.deepEqual(secrets, ["ab"]);
  const doc = scrubSecrets({ e: "rpc http://u:ab@h:1/?p=ab refused: ab", t: "table tab ab." }, secrets);
  assert.deepEqual(doc, { e: "rpc http://h:1/?p=… refused: …", t: "table tab …." });
});
