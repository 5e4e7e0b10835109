/**
 * Slim templates (src/core/work/slim-template.ts): the primary's prepared template → slim JSON → a worker's
 * TemplateWork with the same mining fields and no transactions; a worker's header + coinbase → the same
 * block the primary would have assembled itself; a header that does not commit to the template is refused;
 * templates kept job_expiry after their replacement; a primary that no longer has a template says so.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateTemplateFixture } from "../../src/tools/bench-node/template-gen.ts";
import { prepareTemplate, type TemplateWork } from "../../src/core/work/template.ts";
import { assembleSlimBlock, branchLevels, isSlimTemplate, prepareSlimTemplate, remoteTemplateIdOf, RetainedTemplates, slimTemplateOf, type SlimTemplate } from "../../src/core/work/slim-template.ts";
import { assembleBlockHex } from "../../src/core/work/block-submitter.ts";
import { merkleRootFromBranch } from "../../src/core/bitcoin/merkle.ts";
import { reverseBytes, sha256d } from "../../src/core/bitcoin/hash.ts";
import type { Job } from "../../src/core/work/jobs.ts";
import { loadConfig } from "../../src/config/load.ts";
import { Engine } from "../../src/core/engine/engine.ts";

const MASK = 0x1fffe000;
const opts = (seq: number) => ({ seq, versionMask: MASK, source: "node", nowMs: 1_000 });

/** The slim push as it crosses the wire (JSON). */
const wire = (s: SlimTemplate) => JSON.parse(JSON.stringify(s)) as SlimTemplate;

/** A coinbase (any bytes do for the merkle check) and a header committing to it on template `t`. */
function blockOn(t: TemplateWork): { header: Buffer; coinbase: Buffer } {
  const coinbase = Buffer.from("01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff0403a0bb0dffffffff0100f2052a010000001600140000000000000000000000000000000000000000000000000000", "hex");
  const header = Buffer.alloc(80);
  header.writeUInt32LE(t.version, 0);
  t.prevhashLE.copy(header, 4);
  merkleRootFromBranch(sha256d(coinbase), t.merkleBranchLE).copy(header, 36);
  header.writeUInt32LE(t.curtime, 68);
  header.writeUInt32LE(t.nbits, 72);
  header.writeUInt32LE(12345, 76);
  return { header, coinbase };
}

for (const txs of [0, 1, 2, 3000]) {
  test(`slim template round trip, ${txs} transactions: same mining fields, no transaction data`, () => {
    const gbt = generateTemplateFixture(txs).template;
    const full = prepareTemplate(gbt, opts(7));
    const slim = wire(slimTemplateOf(full));
    assert.ok(isSlimTemplate(slim) && !isSlimTemplate(gbt));
    const w = prepareSlimTemplate(slim, opts(1));
    assert.equal(remoteTemplateIdOf(w), 7, "names the primary's template");
    assert.equal(remoteTemplateIdOf(full), null);
    for (const k of ["height", "prevhashHex", "prevhashStratum", "version", "nbits", "nbitsHex", "curtime", "coinbaseValueSats", "txCount", "networkTarget", "networkDifficulty"] as const) assert.deepEqual(w[k], full[k], k);
    assert.deepEqual(w.prevhashLE, full.prevhashLE);
    assert.deepEqual(w.merkleBranchHex, full.merkleBranchHex);
    assert.deepEqual(w.merkleBranchLE, full.merkleBranchLE);
    assert.deepEqual(w.witnessCommitmentScript, full.witnessCommitmentScript);
    assert.deepEqual(w.txDataHex, []);
    assert.equal(w.merkleBranchLE.length, branchLevels(txs));
    if (txs === 3000) {
      const fullBytes = JSON.stringify(gbt).length;
      const slimBytes = JSON.stringify(slim).length;
      assert.ok(slimBytes < 2000 && slimBytes * 500 < fullBytes, `slim ${slimBytes} bytes vs full ${fullBytes}`);
    }
  });
}

test("a worker's header + coinbase on a slim template assemble into the block the primary would have made", () => {
  const full = prepareTemplate(generateTemplateFixture(3000).template, opts(9));
  const w = prepareSlimTemplate(wire(slimTemplateOf(full)), opts(1));
  const { header, coinbase } = blockOn(w);
  const { blockHex, hashHex } = assembleSlimBlock(full, { templateId: 9, headerHex: header.toString("hex"), coinbaseHex: coinbase.toString("hex") });
  const job = { template: full } as unknown as Job;
  assert.equal(blockHex, assembleBlockHex({ job, header, coinbase, hashLE: sha256d(header), shareDifficulty: 1 }));
  assert.equal(hashHex, reverseBytes(sha256d(header)).toString("hex"));
  assert.ok(blockHex.includes(full.txDataHex[2999]!), "carries the template's transactions");
});

test("a header that does not commit to the template is refused (other parent, other coinbase)", () => {
  const full = prepareTemplate(generateTemplateFixture(10).template, opts(3));
  const { header, coinbase } = blockOn(full);
  const otherCoinbase = Buffer.from(coinbase);
  otherCoinbase[50] ^= 1;
  assert.throws(() => assembleSlimBlock(full, { templateId: 3, headerHex: header.toString("hex"), coinbaseHex: otherCoinbase.toString("hex") }), /merkle root/);
  const otherParent = Buffer.from(header);
  otherParent[10] ^= 1;
  assert.throws(() => assembleSlimBlock(full, { templateId: 3, headerHex: otherParent.toString("hex"), coinbaseHex: coinbase.toString("hex") }), /previous block/);
  assert.throws(() => assembleSlimBlock(full, { templateId: 3, headerHex: "00", coinbaseHex: coinbase.toString("hex") }), /80 bytes/);
});

test("a malformed slim template is refused, naming the field", () => {
  const slim = slimTemplateOf(prepareTemplate(generateTemplateFixture(5).template, opts(1)));
  assert.throws(() => prepareSlimTemplate({ ...slim, merklebranch: slim.merklebranch.slice(1) }, opts(1)), /merklebranch must have 3 entries/);
  assert.throws(() => prepareSlimTemplate({ ...slim, merklebranch: [...slim.merklebranch.slice(1), "zz"] }, opts(1)), /merklebranch\[2\]/);
  assert.throws(() => prepareSlimTemplate({ ...slim, txcount: -1 }, opts(1)), /txcount/);
  assert.throws(() => prepareSlimTemplate({ ...slim, bits: "x" }, opts(1)), /bits/);
});

test("templates are kept while their jobs may live: the current one, and each replaced one for keepMs", () => {
  const kept = new RetainedTemplates(600_000);
  const t = (seq: number) => prepareTemplate(generateTemplateFixture(0).template, opts(seq));
  kept.add(t(1), 0);
  kept.add(t(2), 1_000); // 1 replaced at 1 s
  kept.add(t(3), 500_000); // 2 replaced at 500 s
  assert.ok(kept.get(1) && kept.get(2) && kept.get(3));
  kept.add(t(4), 601_001); // 1 is past 600 s since its replacement; 2 is not
  assert.equal(kept.get(1), null);
  assert.ok(kept.get(2) && kept.get(3) && kept.get(4));
  kept.add(t(5), 10_000_000);
  assert.deepEqual([kept.get(2), kept.get(3)], [null, null]);
  assert.ok(kept.get(4), "just replaced");
  kept.add(t(6), 20_000_000);
  assert.equal(kept.get(4), null);
  assert.ok(kept.get(6) && kept.get(5));
  assert.equal(kept.size, 2, "the current template is kept however old it is");
});

test("a worker's block on a template the primary no longer has: rejected with the reason, logged event, counted", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tbg-slim-"));
  const file = join(dir, "pool.json");
  await writeFile(file, JSON.stringify({ network: "regtest", btcd: [{ url: "127.0.0.1:1", auth: "u", pass: "p" }], serverurl: ["127.0.0.1:0"], data_dir: join(dir, "data"), logdir: join(dir, "logs"), events: { enabled: false }, health: { enabled: false } }));
  const config = await loadConfig(file);
  const engine = new Engine({ config, stratumWorkers: { view: () => { throw new Error("not used"); } } });
  const lost: unknown[] = [];
  engine.bus.on("workerBlockUnassembled", (e) => lost.push(e));
  const hashHex = "00".repeat(32);
  const r = await engine.submitWorkerSlimBlock({ templateId: 42, headerHex: "00".repeat(80), coinbaseHex: "00", hashHex, height: 101 });
  assert.equal(r.outcome, "rejected");
  assert.match(String(r.results[0]!.result), /template 42 is no longer kept/);
  assert.deepEqual(lost, [{ hashHex, height: 101, templateId: 42, reason: "template 42 is no longer kept (or was never made) by this primary process" }]);
  assert.equal(engine.workerBlocksUnassembled, 1);
  await engine.close();
});
