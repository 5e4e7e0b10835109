/**
 * Churn and invalid-share rules without false positives: no churn while the pool has no job (node
 * outage), socket errors are not churn, and cheap valid shares at a tiny difficulty cannot hide a
 * flood of invalid ones.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { AbuseGuard, type GuardBus, type PeerRef } from "../../src/core/security/abuse-guard.ts";
import { BanList } from "../../src/core/security/bans.ts";
import { RejectReason } from "../../src/core/shares/reject.ts";
import type { ShareVerdict } from "../../src/core/shares/validator.ts";

function setup(over: { hasJob?: () => boolean; validShareFloor?: number } = {}) {
  const clock = { ms: 1_000_000 };
  const bus = new EventEmitter();
  const bans = new BanList({ enabled: true, threshold: 1, windowSec: 60, durationSec: 60, allowlist: [], now: () => clock.ms });
  const guard = new AbuseGuard({ bus: bus as unknown as GuardBus, bans, sessions: () => [], churnPerStrike: 10, ...over });
  let n = 0;
  const session = (ip = "198.51.100.7"): PeerRef => ({ id: `s${n++}`, ip, connectedAtMs: clock.ms, sharesAccepted: 0 });
  return { clock, bus, bans, guard, session };
}

const verdict = (accepted: boolean, difficulty: number): ShareVerdict =>
  ({ accepted, reason: accepted ? undefined : RejectReason.LowDifficulty, difficulty, shareDifficulty: difficulty, block: false, job: null, detail: "" }) as unknown as ShareVerdict;

test("reconnects while the pool has no current job (node outage) are not churn; with a job they are", () => {
  let job = false;
  const { bus, bans, session } = setup({ hasJob: () => job });
  for (let i = 0; i < 30; i++) bus.emit("disconnected", { session: session(), reason: "client_closed" });
  assert.equal(bans.stats().active, 0, "no strike during the outage");
  job = true;
  for (let i = 0; i < 10; i++) bus.emit("disconnected", { session: session(), reason: "client_closed" });
  assert.equal(bans.stats().active, 1, "churn strikes once there is work");
});

test("socket errors (RST, timeouts) are not churn", () => {
  const { bus, bans, session } = setup();
  for (let i = 0; i < 30; i++) bus.emit("disconnected", { session: session(), reason: "socket_error" });
  assert.equal(bans.stats().active, 0);
});

test("valid shares far below the floor cannot hide invalid ones; valid shares at the floor still do", () => {
  const cheap = setup({ validShareFloor: 1024 });
  const s = cheap.session();
  // 44 invalid + 6 valid at difficulty 1: unweighted that is 88 % bad (under 90 %); weighted it is ~100 %.
  for (let i = 0; i < 44; i++) cheap.bus.emit("share", { session: s, verdict: verdict(false, 1024) });
  for (let i = 0; i < 6; i++) cheap.bus.emit("share", { session: s, verdict: verdict(true, 1) });
  assert.equal(cheap.bans.stats().active, 1, "struck");

  const honest = setup({ validShareFloor: 1024 });
  const h = honest.session();
  for (let i = 0; i < 44; i++) honest.bus.emit("share", { session: h, verdict: verdict(false, 1024) });
  for (let i = 0; i < 6; i++) honest.bus.emit("share", { session: h, verdict: verdict(true, 1024) });
  assert.equal(honest.bans.stats().active, 0, "88 % at the floor: under the 90 % ratio");
});
