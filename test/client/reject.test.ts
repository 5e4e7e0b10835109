import { test } from "node:test";
import assert from "node:assert/strict";
import { classifySubmitAnswer, RejectReason } from "../../src/tools/stratum-client/reject.ts";

test("result true with null error is accepted", () => {
  assert.deepEqual(classifySubmitAnswer(true, null), { accepted: true });
});

test("conventional [code, message] errors are classified by text, then code", () => {
  assert.equal(classifySubmitAnswer(null, [23, "high-hash", null]).reason, RejectReason.LowDifficulty); // OCEAN
  assert.equal(classifySubmitAnswer(null, [23, "Difficulty too low", null]).reason, RejectReason.LowDifficulty); // public-pool
  assert.equal(classifySubmitAnswer(null, [21, "Job not found", null]).reason, RejectReason.JobNotFound);
  assert.equal(classifySubmitAnswer(null, [22, "Duplicate share", null]).reason, RejectReason.Duplicate);
  assert.equal(classifySubmitAnswer(null, [21, "", null]).reason, RejectReason.Stale);
  assert.equal(classifySubmitAnswer(null, [24, "", null]).reason, RejectReason.Unauthorized);
  assert.equal(classifySubmitAnswer(null, [25, "", null]).reason, RejectReason.NotSubscribed);
  assert.equal(classifySubmitAnswer(null, [20, "something odd", null]).reason, RejectReason.Other);
  const v = classifySubmitAnswer(false, [23, "high-hash", null]);
  assert.equal(v.code, 23);
  assert.equal(v.message, "high-hash");
});

test("ckpool reject-reason strings are classified", () => {
  const cases: Array<[string, RejectReason]> = [
    ["Invalid JobID", RejectReason.JobNotFound],
    ["Stale", RejectReason.Stale],
    ["Ntime out of range", RejectReason.Ntime],
    ["Duplicate", RejectReason.Duplicate],
    ["Above target", RejectReason.LowDifficulty],
  ];
  for (const [text, reason] of cases) {
    const v = classifySubmitAnswer(false, null, text);
    assert.equal(v.accepted, false);
    assert.equal(v.reason, reason, text);
    assert.equal(v.message, text);
  }
});

test("ckpool string errors: malformed params and version mask", () => {
  assert.equal(classifySubmitAnswer(false, "No nonce2").reason, RejectReason.Malformed);
  assert.equal(classifySubmitAnswer(false, "Params not array").reason, RejectReason.Malformed);
  assert.equal(classifySubmitAnswer(false, "Invalid version mask").reason, RejectReason.Version);
  assert.equal(classifySubmitAnswer(false, "Worker mismatch").reason, RejectReason.Unauthorized);
  assert.equal(classifySubmitAnswer(false, "Invalid nonce2 length").reason, RejectReason.Extranonce2);
});

test("result true with an error, or null without one, is a reject", () => {
  assert.equal(classifySubmitAnswer(true, [23, "low", null]).accepted, false);
  assert.equal(classifySubmitAnswer(null, null).reason, RejectReason.Other);
});
