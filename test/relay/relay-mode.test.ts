import { test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { PrimarySubmitError, type PrimaryLink } from "../../src/core/relay/link.ts";
import type { SlimBlock } from "../../src/core/work/slim-template.ts";
import { emptyBlockTemplate, RelayController } from "../../src/core/relay/relay-mode.ts";
import { prepareTemplate, type GbtTemplate } from "../../src/core/work/template.ts";

test("the fast-tip empty-block template keeps the tip and drops the transactions, their fees and the witness commitment", () => {
  const gbt: GbtTemplate = {
    version: 0x20000000,
    previousblockhash: "11".repeat(32),
    transactions: [
      { data: "02".repeat(60), txid: "aa".repeat(32), fee: 1500 },
      { data: "02".repeat(70), txid: "bb".repeat(32), fee: 2500 },
    ],
    coinbasevalue: 312_504_000,
    bits: "207fffff",
    curtime: 1_700_000_000,
    height: 500,
    default_witness_commitment: "6a24aa21a9ed" + "cc".repeat(32),
  };
  const empty = emptyBlockTemplate(gbt);
  assert.equal(empty.transactions.length, 0);
  assert.equal(BigInt(empty.coinbasevalue), 312_500_000n);
  assert.equal(empty.default_witness_commitment, undefined);
  assert.equal(empty.previousblockhash, gbt.previousblockhash);
  assert.equal(empty.height, 500);
  const t = prepareTemplate(empty, { seq: 1, versionMask: 0x1fffe000, source: "x", nowMs: 0 });
  assert.equal(t.txCount, 0);
  assert.equal(t.witnessCommitmentScript, null);
  assert.equal(gbt.transactions.length, 2, "the original is untouched");
});

function followTest(alwaysFollowPrimary: boolean): number[] {
  const events = new EventEmitter();
  const adopted: number[] = [];
  let cur: { height: number; prevhashHex: string } | null = null;
  new RelayController({
    link: { events } as unknown as PrimaryLink,
    primaryName: "primary",
    failoverThresholdMs: Infinity,
    reconnectIntervalMs: 200,
    now: () => 0,
    adopt: (gbt) => {
      adopted.push(gbt.height);
      cur = { height: gbt.height, prevhashHex: gbt.previousblockhash };
    },
    current: () => cur,
    onState: () => undefined,
    onWarning: () => undefined,
    alwaysFollowPrimary,
  });
  const send = (height: number, prev: string): void => {
    events.emit("template", { template: { height, previousblockhash: prev }, slim: true, templateSeq: height, latencyMs: 1, receivedAtMs: 0, wireBytes: 0 });
  };
  send(101, "aa".repeat(32));
  send(100, "bb".repeat(32)); // a reorg to a lower tip
  return adopted;
}

test("a Stratum worker process follows its primary down to a lower height (a reorg); a relay keeps its newer work", () => {
  assert.deepEqual(followTest(true), [101, 100]);
  assert.deepEqual(followTest(false), [101]);
});

function submitTest(submitRetryForMs: number | undefined, errors: PrimarySubmitError[]): { calls: () => number; ctl: RelayController } {
  let calls = 0;
  const link = {
    events: new EventEmitter(),
    submitBlock: () => {
      const err = errors[calls++];
      return err ? Promise.reject(err) : Promise.resolve({ outcome: "accepted" as const, results: [] });
    },
    close: () => undefined,
  } as unknown as PrimaryLink;
  const ctl = new RelayController({
    link,
    primaryName: "primary",
    failoverThresholdMs: Infinity,
    reconnectIntervalMs: 200,
    now: () => 0,
    adopt: () => undefined,
    current: () => null,
    onState: () => undefined,
    onWarning: () => undefined,
    submitRetryForMs,
  });
  return { calls: () => calls, ctl };
}

test("a worker's block is sent again while the link to the primary is down (within the bound); a sent, unanswered one is not", async () => {
  const down = () => new PrimarySubmitError("PRIMARY_UNREACHABLE", "control connection to the primary is down");
  const slim = { header: "00", coinbase: "00", templateId: 1 } as unknown as SlimBlock;
  const late = () => undefined;

  const retried = submitTest(5000, [down(), down()]);
  const ok = await retried.ctl.submitBlock(null, slim, "aa".repeat(32), 1, late);
  assert.equal(ok.outcome, "accepted");
  assert.equal(retried.calls(), 3);

  const once = submitTest(undefined, [down()]);
  const failed = await once.ctl.submitBlock(null, slim, "aa".repeat(32), 1, late);
  assert.equal(failed.outcome, "rejected");
  assert.equal(once.calls(), 1, "a relay keeps one attempt (its node has the block too)");

  const timedOut = submitTest(5000, [new PrimarySubmitError("PRIMARY_TIMEOUT", "no answer")]);
  assert.equal((await timedOut.ctl.submitBlock(null, slim, "aa".repeat(32), 1, late)).outcome, "rejected");
  assert.equal(timedOut.calls(), 1, "a block that reached the primary is not sent twice");

  const bounded = submitTest(300, Array.from({ length: 100 }, down));
  assert.equal((await bounded.ctl.submitBlock(null, slim, "aa".repeat(32), 1, late)).outcome, "rejected");
  assert.ok(bounded.calls() <= 3, `bounded: ${bounded.calls()} attempts`);
});
