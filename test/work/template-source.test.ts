/**
 * TemplateSource with scripted nodes: hints retried until the serving node has the block, failover on
 * a refused or hung poll, failback to the preferred node. Real timers with short intervals.
 */
import { describe, it, afterEach } from "node:test";
import assert from "node:assert/strict";
import { TemplateSource, type TemplateReason, type TemplateSourceOptions } from "../../src/core/work/template-source.ts";
import type { RpcClient } from "../../src/core/bitcoind/rpc-client.ts";
import type { BlockTemplate } from "../../src/core/bitcoind/rpc-types.ts";
import { RpcConnectionError } from "../../src/core/bitcoind/errors.ts";
import { waitFor } from "../support/wait.ts";

const H = (n: number) => n.toString(16).padStart(2, "0").repeat(32);

/** A node whose tip and availability the test sets. */
class ScriptedNode {
  tip = H(0);
  /** Height of the block its templates are for. */
  height = 1;
  mode: "ok" | "refuse" | "hang" | "hold" = "ok";
  gbtCalls = 0;
  bestCalls = 0;
  /** Calls made in "hold" mode, answered by release(). */
  private held: Array<() => void> = [];
  constructor(readonly name: string) {}
  private gate<T>(value: () => T): Promise<T> {
    if (this.mode === "refuse") return Promise.reject(new RpcConnectionError(`${this.name}: ECONNREFUSED`, "ECONNREFUSED"));
    if (this.mode === "hang") return new Promise<T>(() => {});
    if (this.mode === "hold") return new Promise<T>((resolve, reject) => this.held.push(() => (this.mode === "refuse" ? reject(new RpcConnectionError(`${this.name}: ECONNRESET`, "ECONNRESET")) : resolve(value()))));
    return Promise.resolve(value());
  }
  get heldCalls(): number {
    return this.held.length;
  }
  /** Answers the held calls with the node's state now (mode "ok"), or fails them (mode "refuse"). */
  release(mode: "ok" | "refuse" = "ok"): void {
    this.mode = mode;
    for (const f of this.held.splice(0)) f();
  }
  getBlockTemplate(): Promise<BlockTemplate> {
    this.gbtCalls++;
    return this.gate(() => ({ previousblockhash: this.tip, height: this.height }) as unknown as BlockTemplate);
  }
  getBestBlockHash(): Promise<string> {
    this.bestCalls++;
    return this.gate(() => this.tip);
  }
}

interface Adopted {
  prev: string;
  node: string;
  reason: TemplateReason;
}

let source: TemplateSource | null = null;
// The source's timers are unref'd (a pool keeps the loop alive with its sockets): hold it open here.
let keepAlive: NodeJS.Timeout | null = null;
afterEach(() => {
  source?.close();
  if (keepAlive) clearInterval(keepAlive);
  keepAlive = null;
});

async function setup(nodes: ScriptedNode[], extra: Partial<TemplateSourceOptions> = {}) {
  keepAlive ??= setInterval(() => {}, 1_000);
  const adopted: Adopted[] = [];
  const polled: string[] = [];
  source = new TemplateSource({
    nodes: nodes as unknown as RpcClient[],
    rules: ["segwit"],
    pollMs: 60_000,
    updateIntervalSec: 3600,
    now: Date.now,
    onTemplate: (t, node, reason) => void adopted.push({ prev: t.previousblockhash, node, reason }),
    onPolledNewBlock: (hash) => void polled.push(hash),
    ...extra,
  });
  await source.start();
  const active = () => source!.status().find((s) => s.active)?.name;
  return { source, adopted, polled, active };
}

describe("TemplateSource: new-block hints", () => {
  it("retries a hint until the serving node has the block, asking its tip (not a template) meanwhile", async () => {
    const a = new ScriptedNode("a");
    const { source, adopted } = await setup([a]);
    const hint = source.newBlockHint(H(1)); // announced by another node's ZMQ: `a` has not got it yet
    await waitFor(() => a.bestCalls >= 3, "a few tip checks");
    assert.equal(a.gbtCalls, 2, "the initial template and one immediate fetch; retries only ask the tip");
    a.tip = H(1);
    assert.equal(await hint, true);
    const last = adopted.at(-1)!;
    assert.deepEqual(last, { prev: H(1), node: "a", reason: "new_block" });
    assert.equal(adopted.filter((t) => t.prev === H(1)).length, 1, "one template for the new block");
  });

  it("returns at once for the block already being mined, and gives up after hintRetryMs", async () => {
    const a = new ScriptedNode("a");
    const { source } = await setup([a], { hintRetryMs: 300 });
    assert.equal(await source.newBlockHint(H(0)), true);
    const t0 = Date.now();
    assert.equal(await source.newBlockHint(H(9)), false);
    assert.ok(Date.now() - t0 < 2_000);
  });

  it("a newer hint ends the retries of an older one", async () => {
    const a = new ScriptedNode("a");
    const { source } = await setup([a]);
    const older = source.newBlockHint(H(1));
    await waitFor(() => a.bestCalls >= 1, "retrying");
    const newer = source.newBlockHint(H(2));
    assert.equal(await older, false, "superseded");
    a.tip = H(2);
    assert.equal(await newer, true);
  });
});

describe("TemplateSource: failover", () => {
  it("a refused poll fails over to the next node at once; the preferred node serves again once it answers", async () => {
    const [a, b] = [new ScriptedNode("a"), new ScriptedNode("b")];
    const { adopted, active } = await setup([a, b], { pollMs: 50 });
    assert.equal(active(), "a");
    a.mode = "refuse";
    const t0 = Date.now();
    await waitFor(() => adopted.at(-1)?.node === "b", "template from b", 2_000);
    assert.ok(Date.now() - t0 < 1_000, `failover took ${Date.now() - t0} ms`);
    assert.equal(active(), "b");
    assert.equal(source!.status()[0].healthy, false);
    a.mode = "ok";
    await waitFor(() => active() === "a", "a preferred again", 3_000);
    assert.equal(adopted.at(-1)?.node, "a");
    assert.equal(source!.status()[0].healthy, true);
  });

  it("a node back from an outage but still behind does not take over until it has caught up", async () => {
    const [a, b] = [new ScriptedNode("a"), new ScriptedNode("b")];
    const { adopted, active } = await setup([a, b], { pollMs: 50 });
    a.mode = "refuse";
    await waitFor(() => active() === "b", "b serving", 2_000);
    b.tip = H(5);
    b.height = 2; // the chain moved on while a was down
    await waitFor(() => adopted.at(-1)?.prev === H(5), "work on b's new block", 2_000);
    const seen = adopted.length;
    a.mode = "ok"; // a answers again, still on the old tip
    await waitFor(() => a.gbtCalls >= 3, "a probed", 3_000);
    assert.equal(active(), "b");
    assert.match(source!.status()[0].lastError ?? "", /behind/);
    assert.ok(!adopted.slice(seen).some((t) => t.prev === H(0)), "miners never sent back to the old tip");
    a.tip = H(5);
    a.height = 2;
    await waitFor(() => active() === "a", "a preferred once caught up", 3_000);
  });

  it("when the serving node errors and the backup is a block behind, miners keep the current work (no clean jobs onto the old parent)", async () => {
    const [a, b] = [new ScriptedNode("a"), new ScriptedNode("b")];
    a.tip = H(7);
    a.height = 2;
    const { adopted, active } = await setup([a, b]);
    assert.equal(adopted.at(-1)?.prev, H(7));
    a.mode = "refuse"; // e.g. its getblocktemplate timed out while it connected a block
    await source!.fetch("refresh");
    assert.equal(active(), "a", "the behind backup did not take over");
    assert.ok(!adopted.some((t) => t.prev === H(0)), "never moved to b's older tip");
    assert.match(source!.status()[1].lastError ?? "", /behind/);
    // Every node answers and all are lower: the chain really went back, so the lower template is taken.
    a.mode = "ok";
    a.tip = H(0);
    a.height = 1;
    await source!.fetch("refresh");
    assert.equal(adopted.at(-1)?.prev, H(0));
  });

  it("a poll that hangs for pollStallMs counts as a failure (NODE_STALLED)", async () => {
    const [a, b] = [new ScriptedNode("a"), new ScriptedNode("b")];
    const { active } = await setup([a, b], { pollMs: 50, pollStallMs: 200 });
    a.mode = "hang";
    const t0 = Date.now();
    await waitFor(() => active() === "b", "b serving", 3_000);
    assert.ok(Date.now() - t0 < 1_000, `failover took ${Date.now() - t0} ms`);
    assert.match(source!.status()[0].lastError ?? "", /unanswered after 200 ms/);
  });

  it("polling alone notices a new tip (no hint) and reports it", async () => {
    const a = new ScriptedNode("a");
    const { adopted, polled } = await setup([a], { pollMs: 50 });
    a.tip = H(7);
    await waitFor(() => adopted.some((t) => t.prev === H(7) && t.reason === "new_block"), "new work by polling", 2_000);
    assert.deepEqual(polled, [H(7)]);
  });

  it("checkTip() asks the serving node now (used after a ZMQ reconnect)", async () => {
    const a = new ScriptedNode("a");
    const { source, adopted } = await setup([a]);
    a.tip = H(8);
    await source.checkTip();
    assert.equal(adopted.at(-1)?.prev, H(8));
  });
});

/** Resolves p, or rejects after `ms` (a fetch that waits for a hung node would otherwise hang the test). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not done after ${ms} ms`)), ms)));
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

describe("TemplateSource: hedging around a slow node", () => {
  it("a backup without the new block does not win while the first node, slow with the block, is still answering", async () => {
    const [a, b] = [new ScriptedNode("a"), new ScriptedNode("b")];
    const { adopted } = await setup([a, b], { hedgeMs: 50 });
    const seen = adopted.length;
    a.mode = "hold"; // a is connecting the new block: its getblocktemplate is slow
    const fetch = source!.fetch("new_block");
    await waitFor(() => b.gbtCalls >= 1, "b asked after hedgeMs", 3_000);
    await within(fetch, 3_000, "the new-block fetch"); // ends once b (the only non-slow node) has answered
    assert.equal(adopted.length, seen, "b's template on the old parent did not replace the work");
    a.tip = H(1);
    a.height = 2;
    a.release();
    await waitFor(() => adopted.some((t) => t.prev === H(1)), "work on a's new block", 3_000);
    assert.ok(adopted.slice(seen).every((t) => t.node === "a"), JSON.stringify(adopted.slice(seen)));
    assert.equal(source!.currentTip, H(1));
  });

  it("the backup's old-parent template is the fallback when the slow first node fails", async () => {
    const [a, b] = [new ScriptedNode("a"), new ScriptedNode("b")];
    const { adopted } = await setup([a, b], { hedgeMs: 50 });
    a.mode = "hold";
    const fetch = source!.fetch("new_block");
    await waitFor(() => b.gbtCalls >= 1, "b asked", 3_000);
    await within(fetch, 3_000, "the new-block fetch");
    a.release("refuse");
    await waitFor(() => adopted.at(-1)?.node === "b", "b's template adopted once a failed", 3_000);
    assert.equal(adopted.at(-1)?.prev, H(0));
  });

  it("a hung node does not hold up a fetch when no other node answers usably; its late usable answer then fetches", async () => {
    const [a, b] = [new ScriptedNode("a"), new ScriptedNode("b")];
    let allFailed = 0;
    const { adopted } = await setup([a, b], { hedgeMs: 50, onAllNodesFailed: () => void allFailed++ });
    a.mode = "hold"; // hung: would answer only at its RPC time-out
    b.mode = "refuse";
    await within(source!.fetch("refresh"), 3_000, "the fetch with a hung first node and a refusing backup");
    assert.equal(allFailed, 1, "reported as a failed fetch; the last work stays");
    assert.equal(a.heldCalls, 1, "a's call is still out");
    a.tip = H(2);
    a.height = 2;
    a.release();
    await waitFor(() => adopted.some((t) => t.prev === H(2) && t.node === "a"), "a's late answer brings work", 3_000);
  });

  it("while the polled node is slow, the next node is polled every blockpoll (a block reaching it later is seen)", async () => {
    const [a, b] = [new ScriptedNode("a"), new ScriptedNode("b")];
    const { adopted } = await setup([a, b], { hedgeMs: 50, pollMs: 50, pollStallMs: 30_000 });
    a.mode = "hold"; // its polls hang; the stall limit is far away
    await waitFor(() => b.bestCalls >= 1, "b asked once (the hedge of a's poll)", 3_000);
    const asked = b.bestCalls;
    b.tip = H(3); // the block reaches b only after that first hedge
    b.height = 2;
    await waitFor(() => adopted.some((t) => t.prev === H(3)), "work on b's later block", 3_000);
    assert.ok(b.bestCalls > asked, "b polled again");
  });
});
