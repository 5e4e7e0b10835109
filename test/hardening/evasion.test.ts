/**
 * Issue 12 §2, §3 and the per-IP part of §6, over real sockets: the invalid-share ban counts per
 * address across reconnects, connection churn without a valid share strikes, one address cannot hold
 * every connection slot (allow-listed farms are exempt), and the per-IP limit folds `::ffff:` and
 * groups IPv6 by /64.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { once } from "node:events";
import { RawClient } from "../support/stratum.ts";
import { waitFor } from "../support/wait.ts";
import { startHardenedPool, stats, assertServesNormalMiner, closedByServer, USER } from "./helpers.ts";
import { STRATUM_DEFAULTS } from "../../src/config/defaults.ts";
import { ipv6Prefix48 } from "../../src/core/stratum/server.ts";

test("invalid shares spread over many reconnecting connections from one address earn an invalid_shares ban (30 × 49)", async () => {
  // Churn strikes off: this ban must come from the shares alone.
  const pool = await startHardenedPool({ bans: { duration_sec: 1, churn_per_strike: 0 } });
  try {
    let connections = 0;
    for (let i = 0; i < 30; i++) {
      if (pool.app.engine.banOf("127.0.0.1")) break;
      const c = await RawClient.connect(pool.port);
      connections++;
      try {
        await c.handshake(USER);
      } catch {
        break; // banned while handshaking
      }
      for (let k = 0; k < 49; k++) c.send("mining.submit", [USER, "deadbeef", "00".repeat(c.extranonce2Size), "00000000", "00000000"]);
      await c.until(() => c.replies.size >= 51 || c.closed, 10_000, "49 submit replies");
      c.close();
      await closedByServer(c);
    }
    const s = stats(pool).bans;
    assert.ok(s.strikesTotal.invalid_shares >= 10, `${s.strikesTotal.invalid_shares} invalid_shares strikes`);
    assert.equal(s.bansTotal.invalid_shares, 1, "banned for invalid shares");
    assert.ok(connections <= 30);
    await waitFor(() => pool.app.engine.banOf("127.0.0.1") === null, "the ban to expire", 5000);
    await assertServesNormalMiner(pool);
  } finally {
    await pool.close();
  }
});

test("connection churn without a valid share strikes (subscribe + authorize + close) and bans; miners that submit a valid share and reconnect are never struck", async () => {
  const pool = await startHardenedPool({ bans: { duration_sec: 1 } });
  try {
    // Honest reconnects first: each connection gets one valid share accepted.
    for (let i = 0; i < 12; i++) await assertServesNormalMiner(pool);
    await waitFor(() => pool.app.engine.status().connections === 0, "honest connections closed");
    assert.equal(stats(pool).bans.strikesTotal.churn, 0);

    let sent = 0;
    while (sent < 200 && !pool.app.engine.banOf("127.0.0.1")) {
      const s = net.connect({ port: pool.port, host: "127.0.0.1" });
      s.on("error", () => {});
      await once(s, "connect");
      s.end(`{"id":1,"method":"mining.subscribe","params":["churn"]}\n${JSON.stringify({ id: 2, method: "mining.authorize", params: [USER, "x"] })}\n`);
      s.resume();
      await once(s, "close");
      sent++;
    }
    await waitFor(() => stats(pool).bans.bansTotal.churn === 1, "a churn ban");
    assert.ok(sent >= 100 && sent <= 110, `banned after ${sent} churned connections (10 per strike, 10 strikes)`);
    await waitFor(() => pool.app.engine.banOf("127.0.0.1") === null, "the ban to expire", 5000);
    await assertServesNormalMiner(pool);
  } finally {
    await pool.close();
  }
});

/** Opens `n` authorized, idle connections. */
async function idleMiners(port: number, n: number, host = "127.0.0.1"): Promise<RawClient[]> {
  const out: RawClient[] = [];
  for (let i = 0; i < n; i++) {
    const c = await RawClient.connect(port, host);
    out.push(c);
  }
  await Promise.all(out.map((c) => c.handshake(USER)));
  return out;
}

test("one address cannot hold every slot: by default it gets 256 of maxclients 400, another address still connects; an allow-listed farm is exempt", async () => {
  assert.equal(STRATUM_DEFAULTS.maxConnectionsPerIp, 256);
  const pool = await startHardenedPool({ maxclients: 400 });
  const held: RawClient[] = [];
  try {
    held.push(...(await idleMiners(pool.port, 256)));
    const extra = await RawClient.connect(pool.port);
    await closedByServer(extra);
    assert.equal(stats(pool).refused.per_ip_limit, 1);
    // Another address (127.0.0.2 is loopback too) is served.
    const other = net.connect({ port: pool.port, host: "127.0.0.1", localAddress: "127.0.0.2" });
    await once(other, "connect");
    other.write(`{"id":1,"method":"mining.subscribe","params":["other"]}\n`);
    const [reply] = (await once(other, "data")) as [Buffer];
    assert.match(reply.toString(), /"id":1,"result":\[/);
    other.destroy();
  } finally {
    for (const c of held) c.close();
    await pool.close();
  }

  const farm = await startHardenedPool({ stratum: { max_connections_per_ip: 2 }, bans: { allowlist: ["127.0.0.1"] } });
  const rigs: RawClient[] = [];
  try {
    rigs.push(...(await idleMiners(farm.port, 5)));
    assert.equal(farm.app.engine.status().connections, 5);
    assert.equal(stats(farm).refused.per_ip_limit ?? 0, 0);
  } finally {
    for (const c of rigs) c.close();
    await farm.close();
  }
});

test("the per-IP limit folds ::ffff: into IPv4 (one peer on an IPv4 and a dual-stack listener) and groups IPv6 by /64", async () => {
  const pool = await startHardenedPool({ serverurl: ["127.0.0.1:0", "[::]:0"], stratum: { max_connections_per_ip: 1 } });
  try {
    const [v4Port, dualPort] = pool.app.stratumPorts;
    const a = await RawClient.connect(v4Port); // remote 127.0.0.1
    await a.request("mining.subscribe", ["a"]);
    const b = await RawClient.connect(dualPort, "127.0.0.1"); // remote ::ffff:127.0.0.1 on the dual-stack listener
    await closedByServer(b);
    assert.equal(stats(pool).refused.per_ip_limit, 1, "the mapped address counts as the same IPv4 peer");
    a.close();
    // Loopback has a single IPv6 address, so /64 grouping is shown on the key the server counts under.
    const key = (ip: string) => pool.app.engine.banKeyOf(ip);
    assert.equal(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff:ffff:ffff:ffff"));
    assert.notEqual(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
  } finally {
    await pool.close();
  }
});

test("IPv6 /48 aggregate key: every /64 of a /48 shares one key; IPv4 and ::ffff: have none", () => {
  assert.equal(ipv6Prefix48("2001:db8:1:2::1"), "2001:db8:1::/48");
  assert.equal(ipv6Prefix48("2001:0db8:0001:ffff:1:2:3:4"), "2001:db8:1::/48");
  assert.equal(ipv6Prefix48("2001:db8::1"), "2001:db8:0::/48");
  assert.notEqual(ipv6Prefix48("2001:db8:1::1"), ipv6Prefix48("2001:db8:2::1"));
  assert.equal(ipv6Prefix48("::1"), "0:0:0::/48");
  assert.equal(ipv6Prefix48("127.0.0.1"), null);
  assert.equal(ipv6Prefix48("::ffff:127.0.0.1"), null);
  assert.equal(STRATUM_DEFAULTS.maxConnectionsPerIpv6Prefix, 4 * STRATUM_DEFAULTS.maxConnectionsPerIp);
});

test("rotating /64s inside one /48 (seen over ::1 with a per-IP key that differs per connection) stops at the per-/48 limit", async (t) => {
  const pool = await startHardenedPool({ serverurl: ["[::1]:0"], stratum: { max_connections_per_ip: 1, max_connections_per_ipv6_48: 3 } });
  const held: RawClient[] = [];
  t.after(async () => {
    for (const c of held) c.close();
    await pool.close();
  });
  // Make every connection look like another /64 of the same /48 for the per-IP limit.
  let n = 0;
  (pool.app.engine as unknown as { server: { opts: { ipKey: (ip: string) => string } } }).server.opts.ipKey = () => `2001:db8:1:${(n++).toString(16)}::/64`;
  const port = pool.app.stratumPorts[0]!;
  for (let i = 0; i < 3; i++) held.push(await RawClient.connect(port, "::1"));
  await Promise.all(held.map((c) => c.request("mining.subscribe", ["x"])));
  const extra = await RawClient.connect(port, "::1");
  await closedByServer(extra);
  assert.equal(stats(pool).refused.per_prefix_limit, 1);
  assert.equal(stats(pool).refused.per_ip_limit ?? 0, 0, "the per-IP limit never saw two from one key");
});

test("a connection with no accepted share is dropped after stratum.drop_shareless_sec (reason shareless)", async (t) => {
  const pool = await startHardenedPool({ stratum: { drop_shareless_sec: 1 } });
  t.after(() => pool.close());
  const [c] = await idleMiners(pool.port, 1);
  await closedByServer(c!);
  await waitFor(() => (stats(pool).disconnects.shareless ?? 0) === 1, "shareless counted", 10_000);
});
