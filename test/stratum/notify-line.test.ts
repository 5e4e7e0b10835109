/** notifyLine: the concatenated mining.notify line is byte for byte encodeNotify's. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { notifyLine } from "../../src/core/stratum/notify-line.ts";
import { encodeNotify } from "../../src/core/stratum/messages.ts";
import { u32hex } from "../../src/util/hex.ts";
import { JobRegistry } from "../../src/core/work/jobs.ts";
import { prepareTemplate } from "../../src/core/work/template.ts";
import { loadFixture } from "../../src/tools/bench-node/fixtures.ts";

test("notifyLine equals encodeNotify for 0- and 3,000-tx jobs, clean or not, for different coinbases", () => {
  for (const txs of [0, 3000] as const) {
    const jobs = new JobRegistry({ firstSeq: 0xabc });
    const { job } = jobs.addTemplate(prepareTemplate(loadFixture(txs).template, { seq: 1, versionMask: 0x1fffe000, source: "t", nowMs: 1_749_000_000_000 }), 1_749_000_000_000);
    for (const [c1, c2] of [["01000000010000", "ffffffff0100"], ["", ""], ["0a".repeat(64), "ff".repeat(90)]]) {
      for (const clean of [true, false]) {
        const want = encodeNotify({ jobId: job.id, prevhashStratum: job.template.prevhashStratum, coinb1Hex: c1, coinb2Hex: c2, merkleBranchHex: job.template.merkleBranchHex, versionHex: u32hex(job.template.version), nbitsHex: job.template.nbitsHex, ntimeHex: job.ntimeHex, cleanJobs: clean });
        assert.equal(notifyLine(job, c1, c2, clean), want, `txs=${txs} clean=${clean}`);
      }
    }
    assert.equal(JSON.parse(notifyLine(job, "00", "11", true)).params[4].length, txs === 0 ? 0 : 12);
  }
});
