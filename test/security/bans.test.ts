import { test } from "node:test";
import assert from "node:assert/strict";
import { BanList, StrikeReason, type BanInfo, type BanListOptions } from "../../src/core/security/bans.ts";
import { banKey, IpAllowList, ipv6Groups, normalizeIp } from "../../src/core/security/ip.ts";

function list(over: Partial<BanListOptions> = {}) {
  const clock = { ms: 1_000_000 };
  const bans = new BanList({ enabled: true, threshold: 3, windowSec: 10, durationSec: 60, allowlist: [], now: () => clock.ms, ...over });
  const banned: BanInfo[] = [];
  const expired: BanInfo[] = [];
  bans.onBan = (b) => banned.push(b);
  bans.onExpire = (b) => expired.push(b);
  return { bans, clock, banned, expired };
}

test("threshold strikes within the window ban the peer for duration_sec; fewer do not", () => {
  const { bans, clock, banned } = list();
  assert.equal(bans.strike("198.51.100.7", StrikeReason.Junk), null);
  assert.equal(bans.strike("198.51.100.7", StrikeReason.Junk), null);
  assert.equal(bans.check("198.51.100.7"), null);
  clock.ms += 1000;
  const ban = bans.strike("198.51.100.7", StrikeReason.AuthFailed);
  assert.ok(ban);
  assert.deepEqual([ban.key, ban.reason, ban.offence, ban.durationSec, ban.untilMs - ban.sinceMs], ["198.51.100.7", "auth_failed", 1, 60, 60_000]);
  assert.equal(banned.length, 1);
  assert.deepEqual(bans.admit("198.51.100.7"), { ok: false, reason: "banned" });
  assert.deepEqual(bans.admit("198.51.100.8"), { ok: true });
  const s = bans.stats();
  assert.equal(s.active, 1);
  assert.equal(s.refusedTotal, 1);
  assert.equal(s.strikesTotal.junk, 2);
  assert.equal(s.strikesTotal.auth_failed, 1);
  assert.equal(s.bansTotal.auth_failed, 1);
});

test("strikes older than window_sec do not add up", () => {
  const { bans, clock } = list();
  for (let i = 0; i < 10; i++) {
    assert.equal(bans.strike("198.51.100.7", StrikeReason.Junk), null, `strike ${i}`);
    clock.ms += 5_001; // two strikes never share one 10 s window
  }
  assert.equal(bans.stats().active, 0);
});

test("bans expire by themselves, counted and announced once", () => {
  const { bans, clock, expired } = list();
  for (let i = 0; i < 3; i++) bans.strike("203.0.113.9", StrikeReason.LineTooLong);
  assert.ok(bans.check("203.0.113.9"));
  clock.ms += 59_999;
  assert.ok(bans.check("203.0.113.9"));
  clock.ms += 1;
  assert.equal(bans.check("203.0.113.9"), null);
  assert.deepEqual(bans.admit("203.0.113.9"), { ok: true });
  assert.equal(expired.length, 1);
  assert.equal(bans.stats().active, 0);
  assert.equal(bans.stats().expiredTotal, 1);
  assert.equal(bans.sweep(), 0);
});

test("sweep ends expired bans without waiting for the peer to come back", () => {
  const { bans, clock, expired } = list();
  for (let i = 0; i < 3; i++) bans.strike("203.0.113.9", StrikeReason.Junk);
  clock.ms += 61_000;
  assert.equal(bans.sweep(), 1);
  assert.equal(expired.length, 1);
  assert.deepEqual(bans.list(), []);
});

test("repeat offences double the ban up to the cap, and are forgotten after forget_after", () => {
  const { bans, clock } = list({ maxDurationSec: 300, forgetAfterSec: 3600 });
  const durations: number[] = [];
  for (let offence = 0; offence < 5; offence++) {
    let ban: BanInfo | null = null;
    for (let i = 0; i < 3; i++) ban = bans.strike("192.0.2.50", StrikeReason.InvalidShares) ?? ban;
    assert.ok(ban, `offence ${offence + 1}`);
    durations.push(ban.durationSec);
    clock.ms = ban.untilMs;
  }
  assert.deepEqual(durations, [60, 120, 240, 300, 300]);
  clock.ms += 3600_001;
  let ban: BanInfo | null = null;
  for (let i = 0; i < 3; i++) ban = bans.strike("192.0.2.50", StrikeReason.InvalidShares) ?? ban;
  assert.deepEqual([ban?.offence, ban?.durationSec], [1, 60]);
});

test("strikes against a banned peer do not extend its ban", () => {
  const { bans, clock } = list();
  for (let i = 0; i < 3; i++) bans.strike("192.0.2.50", StrikeReason.Junk);
  const until = bans.check("192.0.2.50")!.untilMs;
  clock.ms += 1000;
  for (let i = 0; i < 10; i++) assert.equal(bans.strike("192.0.2.50", StrikeReason.Junk), null);
  assert.equal(bans.check("192.0.2.50")!.untilMs, until);
});

test("allow-listed IPs and CIDR blocks are never banned, however they arrive", () => {
  const { bans, banned } = list({ allowlist: ["127.0.0.1", "10.0.0.0/8", "2001:db8:aa::/48"] });
  for (const ip of ["127.0.0.1", "::ffff:127.0.0.1", "10.200.3.4", "::ffff:10.1.1.1", "2001:db8:aa:1::5"]) {
    for (let i = 0; i < 10; i++) bans.strike(ip, StrikeReason.Junk);
    assert.deepEqual(bans.admit(ip), { ok: true }, ip);
    assert.equal(bans.isAllowlisted(ip), true, ip);
  }
  assert.equal(banned.length, 0);
  assert.equal(bans.stats().allowlistedStrikesTotal, 50);
  for (let i = 0; i < 3; i++) bans.strike("11.0.0.1", StrikeReason.Junk);
  assert.equal(banned.length, 1, "outside the allow-list bans work as usual");
});

test("an IPv4 peer seen as IPv4-mapped IPv6 is the same peer", () => {
  const { bans } = list();
  bans.strike("192.0.2.1", StrikeReason.Junk);
  bans.strike("::ffff:192.0.2.1", StrikeReason.Junk);
  bans.strike("::FFFF:192.0.2.1", StrikeReason.Junk);
  assert.ok(bans.check("192.0.2.1"));
  assert.ok(bans.check("::ffff:192.0.2.1"));
});

test("IPv6 peers are banned by /64: a new interface id does not escape", () => {
  const { bans } = list();
  bans.strike("2001:db8:1:2::1", StrikeReason.Junk);
  bans.strike("2001:db8:1:2:aaaa::1", StrikeReason.Junk);
  const ban = bans.strike("2001:db8:1:2:ffff:ffff:ffff:ffff", StrikeReason.Junk);
  assert.equal(ban?.key, "2001:db8:1:2::/64");
  assert.ok(bans.check("2001:db8:1:2::dead"));
  assert.equal(bans.check("2001:db8:1:3::1"), null);
});

test("with bans disabled strikes are counted but nobody is banned", () => {
  const { bans, banned } = list({ enabled: false });
  for (let i = 0; i < 20; i++) bans.strike("192.0.2.1", StrikeReason.RateLimited);
  assert.equal(banned.length, 0);
  assert.deepEqual(bans.admit("192.0.2.1"), { ok: true });
  assert.equal(bans.stats().strikesTotal.rate_limited, 20);
});

test("memory is bounded: a flood of distinct addresses keeps at most maxTracked records", () => {
  const { bans } = list({ maxTracked: 100 });
  for (let i = 0; i < 10_000; i++) bans.strike(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, StrikeReason.Junk);
  assert.equal(bans.stats().tracked <= 100, true);
});

test("a full table does not sweep per new peer, and evicts unbanned records before banned ones", () => {
  const { bans } = list({ maxTracked: 100 });
  // 10 banned peers first (the oldest records), then the table filled with strike-only peers.
  for (let p = 0; p < 10; p++) for (let i = 0; i < 3; i++) bans.strike(`192.0.2.${p}`, StrikeReason.Junk);
  for (let i = 0; i < 90; i++) bans.strike(`10.0.0.${i}`, StrikeReason.Junk);
  let sweeps = 0;
  const realSweep = bans.sweep.bind(bans);
  bans.sweep = () => (sweeps++, realSweep());
  for (let i = 0; i < 1000; i++) bans.strike(`10.1.${i >> 8}.${i & 255}`, StrikeReason.Junk);
  assert.ok(sweeps <= 1, `full sweeps at one instant: ${sweeps}`);
  assert.ok(bans.stats().tracked <= 100);
  for (let p = 0; p < 10; p++) assert.notEqual(bans.check(`192.0.2.${p}`), null, `ban on 192.0.2.${p} survives the flood`);
});

test("unban lifts a ban at once", () => {
  const { bans } = list();
  for (let i = 0; i < 3; i++) bans.strike("192.0.2.1", StrikeReason.Junk);
  assert.equal(bans.unban("192.0.2.1"), true);
  assert.equal(bans.check("192.0.2.1"), null);
  assert.equal(bans.unban("192.0.2.1"), false);
  assert.equal(bans.stats().active, 0);
});

test("ip helpers: mapped IPv4 folding, IPv6 expansion, prefix keys, allow-list parsing", () => {
  assert.equal(normalizeIp("::ffff:1.2.3.4"), "1.2.3.4");
  assert.equal(normalizeIp("::ffff:1"), "::ffff:1");
  assert.deepEqual(ipv6Groups("::1"), [0, 0, 0, 0, 0, 0, 0, 1]);
  assert.deepEqual(ipv6Groups("2001:db8::"), [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(ipv6Groups("64:ff9b::192.0.2.33"), [0x64, 0xff9b, 0, 0, 0, 0, 0xc000, 0x221]);
  assert.equal(ipv6Groups("1.2.3.4"), null);
  assert.equal(banKey("2001:DB8:0:1:2:3:4:5"), "2001:db8:0:1::/64");
  assert.equal(banKey("2001:db8:0:1:2:3:4:5", 48), "2001:db8:0::/48");
  assert.equal(banKey("2001:db8::5", 128), "2001:db8::5");
  assert.equal(banKey("not an ip"), "not an ip");
  const allow = new IpAllowList(["192.168.0.0/16", "::1", "bogus"]);
  assert.deepEqual(allow.invalid, ["bogus"]);
  assert.equal(allow.has("192.168.44.1"), true);
  assert.equal(allow.has("::1"), true);
  assert.equal(allow.has("192.169.0.1"), false);
  assert.equal(allow.has("garbage"), false);
});
