/**
 * Issue 8 item 4: node faults. The pool's only node sits behind a proxy that, in turn, answers HTTP 500
 * pages, JSON-RPC errors, malformed and truncated JSON, resets, templates with missing fields or a bad
 * commitment, and hangs. Through each: the node is marked unhealthy once, the fault is logged once,
 * miners keep the last valid work and get shares accepted on it, and the node recovers by itself.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { startBenchNode } from "../../src/tools/bench-node/bench-node.ts";
import { devConfig } from "../../src/config/load.ts";
import { Engine } from "../../src/core/engine/engine.ts";
import { logEngine } from "../../src/app/log-engine.ts";
import { RawClient } from "../support/stratum.ts";
import { waitFor } from "../support/wait.ts";
import { startFaultyNode, FAULT_MODES } from "./faulty-node.ts";
import { assertServesNormalMiner, USER } from "./helpers.ts";

test("through every node fault the engine keeps the last work, marks the node unhealthy once, logs once, and recovers", async () => {
  const bench = await startBenchNode({ txs: 0 });
  const proxy = await startFaultyNode(bench.rpcUrl, "Basic " + Buffer.from(`${bench.user}:${bench.pass}`).toString("base64"));
  const dataDir = await mkdtemp(join(tmpdir(), "tbg-faults-"));
  const config = devConfig({
    network: "mainnet",
    btcd: [{ url: `127.0.0.1:${proxy.port}`, auth: "pool", pass: "secret" }],
    serverurl: ["127.0.0.1:0"],
    data_dir: dataDir,
    blockpoll: 100,
    events: { enabled: false, socket_path: join(dataDir, "events.sock") },
    health: { enabled: false, port: 0 },
  });
  config.mindiff = 1e-7;
  config.startdiff = 1e-5;
  const engine = new Engine({ config, rpcTimeoutMs: 1000 });
  const lines: string[] = [];
  logEngine(engine, pino({ level: "info", base: undefined }, { write: (l: string) => void lines.push(l) }));
  const states: boolean[] = [];
  engine.bus.on("nodeState", ({ status }) => states.push(status.healthy));
  let templates = 0;
  engine.bus.on("template", () => templates++);
  let outages = 0;
  engine.bus.on("nodesDown", () => outages++);
  let c: RawClient | null = null;
  try {
    await engine.start();
    const port = engine.status().listening[0].port;
    c = await RawClient.connect(port);
    const first = await c.handshake(USER);
    let en2 = 1;
    const shareOnLastJob = async () => {
      const job = c!.lastNotify()!;
      const w = c!.work(job, Buffer.alloc(c!.extranonce2Size, en2++));
      const r = await c!.request("mining.submit", c!.submitParams(USER, w, c!.findNonce(w, "share")));
      assert.equal(r.error, null, `share on the last job: ${JSON.stringify(r.error)}`);
    };

    for (const [i, mode] of FAULT_MODES.entries()) {
      const callsBefore = proxy.calls.get(mode) ?? 0;
      const outagesBefore = outages;
      proxy.mode = mode;
      await waitFor(() => states.length === 2 * i + 1, `${mode}: the node marked unhealthy`, 10_000);
      // A template fetch failed on every node (the RPC client's own retry may absorb the first faults).
      await waitFor(() => outages > outagesBefore, `${mode}: a fetch that no node answered`, 10_000);
      assert.equal(states.at(-1), false, mode);
      assert.equal(engine.status().nodes[0].healthy, false);
      // The pool keeps trying (polls, refreshes, probes) while the fault lasts; none of it changes state again.
      await waitFor(() => (proxy.calls.get(mode) ?? 0) >= callsBefore + 2, `${mode}: more attempts`, 10_000);
      await shareOnLastJob();
      assert.equal(states.length, 2 * i + 1, `${mode}: one state change per outage`);
      assert.equal(c.closed, false);

      const templatesBefore = templates;
      proxy.mode = "ok";
      await waitFor(() => states.length === 2 * i + 2, `${mode}: the node healthy again`, 10_000);
      assert.equal(states.at(-1), true);
      await waitFor(() => templates > templatesBefore, `${mode}: fresh work after recovery`, 10_000);
      await shareOnLastJob();
    }

    // Never adopted the fault modes' fake tip: every job is on the real chain tip.
    assert.ok(c.notifies().every((n) => n.prevhashStratum === first.prevhashStratum));
    const count = (re: RegExp) => lines.filter((l) => re.test(l)).length;
    assert.equal(count(/is unhealthy/), FAULT_MODES.length, lines.join(""));
    assert.equal(count(/is healthy again/), FAULT_MODES.length);
    assert.equal(count(/no node answered getblocktemplate/), FAULT_MODES.length, "one line per outage");
    await assertServesNormalMiner({ app: { engine } as never, port });
  } finally {
    c?.close();
    await engine.close();
    await proxy.close();
    await bench.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});
