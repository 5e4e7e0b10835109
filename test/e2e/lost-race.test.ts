/**
 * A valid block that lost the race (the node already has another block at that height and answers
 * "inconclusive") is its own outcome: warn, not error; `block_found.outcome = "lost_race"`; its own metric.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DgramReader, type ReaderMessage } from "../../src/pipeline/events/dgram-reader.ts";
import type { BlockFound } from "../../src/core/engine/engine.ts";
import { startTestNode, startTestPool } from "../support/pool.ts";
import { RawClient } from "../support/stratum.ts";
import { REGTEST_ADDRESSES } from "../support/addresses.ts";
import { waitFor } from "../support/wait.ts";
import { captureLogger, LEVEL } from "../support/log-capture.ts";

test("a block beaten to its height by another block is reported as lost_race (warn, own event outcome, own metric)", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "tbg-lostrace-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const socketPath = join(dir, "ev.sock");
  const messages: ReaderMessage[] = [];
  const reader = new DgramReader({ socketPath, onMessage: (m) => messages.push(m) });
  await reader.start();
  t.after(() => reader.close());
  const node = await startTestNode();
  t.after(() => node.close());
  const log = captureLogger();
  const pool = await startTestPool({
    node,
    overrides: { events: { enabled: true, socket_path: socketPath } },
    app: { logger: log.handle, observability: { validateEvents: true } },
  });
  t.after(() => pool.close());
  const blocks: BlockFound[] = [];
  pool.app.engine.bus.on("block", (b) => blocks.push(b));

  const user = `${REGTEST_ADDRESSES.p2wpkh}.rig1`;
  const c = await RawClient.connect(pool.port);
  t.after(() => c.close());
  const job = await c.handshake(user);
  const work = c.work(job, Buffer.alloc(c.extranonce2Size));
  const nonce = c.findNonce(work, "block");

  // Someone else's block at the same height reaches the node first.
  const h0 = node.height();
  await node.mine(1);
  await c.until(() => c.notifies().find((n) => n.cleanJobs && n.prevhashStratum !== job.prevhashStratum), 10_000, "work on the other block");

  await c.request("mining.submit", c.submitParams(user, work, nonce));
  const b = await waitFor(() => blocks[0], "the block outcome");
  assert.equal(b.outcome, "lost_race");
  assert.equal(b.accepted, false);
  assert.deepEqual(b.results.map((r) => r.result), ["inconclusive"]);
  assert.equal(node.height(), h0 + 1, "the other block stays the tip");

  const line = log.lines.find((l) => /lost the race/.test(l.msg));
  assert.ok(line, "a lost-race log line");
  assert.equal(line.level, LEVEL.warn);
  assert.ok(!log.lines.some((l) => /REJECTED/.test(l.msg)), "not reported as rejected");

  const text = await pool.app.obs.metrics!.metrics();
  assert.match(text, /^tbg_blocks_lost_race_total 1$/m);
  assert.match(text, /^tbg_blocks_rejected_total 0$/m);
  assert.match(text, /^tbg_blocks_accepted_total 0$/m);

  await waitFor(() => messages.some((m) => m.ok && m.event.event === "block_found"), "the block_found event");
  const ev = messages.find((m) => m.ok && m.event.event === "block_found");
  assert.ok(ev && ev.ok);
  const data = ev.event.data as { accepted: boolean; outcome?: string };
  assert.equal(data.accepted, false);
  assert.equal(data.outcome, "lost_race");
  assert.deepEqual(messages.filter((m) => !m.ok), [], "every event valid");
});
