/**
 * Per-connection bounds found while auditing the session for hostile input, each a regression test:
 * - client-requested difficulty changes are throttled (each makes a job in the shared registry);
 * - usernames authorized on one connection are capped;
 * - the duplicate filter only records shares that met their target (random nonces cannot grow it);
 * - a malformed BIP310 mask is refused, not read as "ffffffff".
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createFuzzHost, newSession, type FuzzHost } from "./fuzz/session-host.ts";
import { CLIENT_DIFFICULTY_CHANGE_MIN_MS, MAX_AUTHORIZED_PER_CONNECTION } from "../../src/core/stratum/session.ts";
import { REGTEST_ADDRESSES } from "../support/addresses.ts";
import { parseNotify } from "../../src/tools/stratum-client/messages.ts";
import { buildWork, scanNonces, submitParams } from "../../src/tools/stratum-client/work.ts";

const line = (id: unknown, method: string, params: unknown) => JSON.stringify({ id, method, params });

function working(fh: FuzzHost) {
  const { session, transport } = newSession(fh);
  session.handleLine(line(1, "mining.subscribe", []));
  session.handleLine(line(2, "mining.authorize", [REGTEST_ADDRESSES.p2wpkh, "x"]));
  const msgs = () => transport.sent.map((s) => JSON.parse(s) as { id: unknown; method?: string; params?: unknown[]; result?: unknown; error?: [number, string, null] | null });
  return { session, transport, msgs };
}

test("alternating suggest_difficulty cannot mint a job per message: one change per interval, the last request wins", () => {
  const fh = createFuzzHost();
  const { session, msgs } = working(fh);
  const jobsBefore = fh.jobs.size;
  for (let i = 0; i < 200; i++) session.handleLine(line(10 + i, "mining.suggest_difficulty", [i % 2 ? 0.5 : 0.25]));
  const changes = () => msgs().filter((m) => m.method === "mining.set_difficulty").length;
  assert.equal(changes(), 2, "the initial difficulty and one suggested change");
  assert.equal(fh.jobs.size - jobsBefore, 1);
  assert.equal(msgs().filter((m) => typeof m.id === "number" && m.id >= 10 && m.result === true).length, 200, "every suggestion is acknowledged");
  fh.advance(CLIENT_DIFFICULTY_CHANGE_MIN_MS);
  session.tick(fh.nowMs());
  assert.equal(changes(), 3, "the pending request is applied once the interval has passed");
  assert.equal(session.difficulty, 0.5);
});

test(`at most ${MAX_AUTHORIZED_PER_CONNECTION} usernames authorize on one connection`, () => {
  const fh = createFuzzHost();
  const { session, msgs } = working(fh);
  for (let i = 0; i < MAX_AUTHORIZED_PER_CONNECTION + 5; i++) session.handleLine(line(100 + i, "mining.authorize", [`${REGTEST_ADDRESSES.p2wpkh}.w${i}`, "x"]));
  const replies = msgs().filter((m) => typeof m.id === "number" && m.id >= 100);
  const refused = replies.filter((m) => m.error?.[0] === 24);
  // The first connection-level authorize already used one slot.
  assert.equal(replies.length - refused.length, MAX_AUTHORIZED_PER_CONNECTION - 1);
  assert.equal(refused.length, 6);
  assert.match(refused[0].error![1], /workers per connection/);
});

test("shares below their target are not remembered by the duplicate filter; an accepted one is, once", () => {
  const fh = createFuzzHost();
  const { session, msgs, transport } = working(fh);
  const notify = msgs().find((m) => m.method === "mining.notify")!;
  const job = parseNotify(notify.params!);
  const en1 = (JSON.parse(transport.sent[0]) as { result: [unknown, string, number] }).result[1];
  // On bits 207fffff about half of all hashes are blocks, and any hash that meets the session's share
  // target (0.001) is one: every non-block nonce is a low-difficulty share.
  const work = buildWork({ job, extranonce1Hex: en1, extranonce2Size: 8, difficulty: 1e9, versionMask: 0 }, Buffer.alloc(8, 9), 0);
  const recordedBefore = fh.host.work.duplicates.recorded;
  let lows = 0;
  for (let n = 0; n < 4000 && lows < 200; n++) {
    const found = scanNonces(work, n, 1);
    if (found.length > 0) continue; // a block: skip, we want plain low-difficulty shares
    session.handleLine(line(1000 + n, "mining.submit", submitParams(work, REGTEST_ADDRESSES.p2wpkh, n)));
    lows++;
  }
  assert.equal(lows, 200);
  assert.equal(fh.host.work.duplicates.recorded, recordedBefore, "no low-difficulty share was recorded");
  // A block-meeting nonce is recorded, and the same one again is a duplicate.
  const block = scanNonces(work, 0, 4096).find((f) => f.isBlock)!;
  session.handleLine(line("b1", "mining.submit", submitParams(work, REGTEST_ADDRESSES.p2wpkh, block.nonce)));
  session.handleLine(line("b2", "mining.submit", submitParams(work, REGTEST_ADDRESSES.p2wpkh, block.nonce)));
  const b2 = msgs().find((m) => m.id === "b2")!;
  assert.equal(b2.error?.[0], 22, JSON.stringify(b2));
  assert.equal(fh.host.work.duplicates.recorded, recordedBefore + 1);
});

test("a malformed version-rolling mask is refused and counted; a missing one means ffffffff (BIP310)", () => {
  const fh = createFuzzHost();
  for (const [mask, expected] of [
    ["fffffffff", { "version-rolling": false }],
    [4294967295, { "version-rolling": false }],
    ["-1", { "version-rolling": false }],
    [undefined, { "version-rolling": true, "version-rolling.mask": "1fffe000" }],
    ["00ffe000", { "version-rolling": true, "version-rolling.mask": "00ffe000" }],
  ] as const) {
    const { session, transport } = newSession(fh);
    const before = fh.log.protocolErrors;
    session.handleLine(line(1, "mining.configure", [["version-rolling"], mask === undefined ? {} : { "version-rolling.mask": mask }]));
    assert.deepEqual(JSON.parse(transport.sent[0]).result, expected, String(mask));
    assert.equal(fh.log.protocolErrors - before, expected["version-rolling"] ? 0 : 1);
    assert.equal(session.protocolErrorCount, expected["version-rolling"] ? 0 : 1);
  }
});
