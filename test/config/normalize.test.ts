import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { devConfig, devConfigInput, parseConfig, readOpenFileLimit, type ConfigEnv } from "../../src/config/load.ts";
import { BANS_DEFAULTS, DEFAULTS, EVENTS_DEFAULTS, HEALTH_DEFAULTS, STRATUM_DEFAULTS, VARDIFF_DEFAULTS } from "../../src/config/defaults.ts";
import { CONFIG_EVENT_TYPES } from "../../src/config/schema.ts";

const ENV: ConfigEnv = { hostname: "pool-1.example.net", openFileLimit: 100_000 };
const NODE = { url: "127.0.0.1:8332", auth: "u", pass: "p" };

test("a minimal config gets every documented default", () => {
  const c = parseConfig({ btcd: [NODE] }, "min", ENV);
  assert.equal(c.network, null);
  assert.equal(c.mode, "primary");
  assert.equal(c.btcsig, "/TheBitcoinGame/");
  assert.equal(c.blockpoll, 100);
  assert.equal(c.update_interval, 30);
  assert.equal(c.donation, 0);
  assert.deepEqual(c.serverurl, [{ url: "0.0.0.0:3333", host: "0.0.0.0", port: 3333, highdiff: false }]);
  assert.deepEqual([c.mindiff, c.startdiff, c.maxdiff, c.highdiff], [DEFAULTS.mindiff, DEFAULTS.startdiff, 0, DEFAULTS.highdiff]);
  assert.equal(c.version_mask, 0x1fffe000);
  assert.deepEqual([c.nonce1length, c.nonce2length], [4, 8]);
  assert.equal(c.logdir, null);
  assert.equal(c.maxclients, 90_000);
  assert.equal(c.dropidle, 0);
  assert.deepEqual([c.primary, c.relay_server], [null, null]);
  assert.deepEqual([c.region, c.instance, c.instance_id], ["eu", "pool-1.example.net", 0]);
  assert.deepEqual([c.data_dir, c.user_settings_file], ["data", null]);
  assert.deepEqual([c.failover_threshold, c.job_expiry_sec], [10, 600]);
  assert.deepEqual(c.events, { enabled: true, socket_path: "data/events.sock", types: [...CONFIG_EVENT_TYPES], queue_max: EVENTS_DEFAULTS.queueMax, batch_max_bytes: EVENTS_DEFAULTS.batchMaxBytes, ack_socket_path: "data/events.sock.ack", ack_window: EVENTS_DEFAULTS.ackWindow, nats: null });
  assert.deepEqual(c.health, { enabled: true, host: "0.0.0.0", port: HEALTH_DEFAULTS.port, status_page: true, address_display: "short" });
  assert.deepEqual(c.stratum, {
    max_line_bytes: STRATUM_DEFAULTS.maxLineBytes,
    idle_timeout_sec: STRATUM_DEFAULTS.idleTimeoutSec,
    message_rate_per_sec: STRATUM_DEFAULTS.messageRatePerSec,
    message_burst: STRATUM_DEFAULTS.messageBurst,
    max_connections_per_ip: STRATUM_DEFAULTS.maxConnectionsPerIp,
    max_connections_per_ipv6_48: STRATUM_DEFAULTS.maxConnectionsPerIpv6Prefix,
    drop_shareless_sec: STRATUM_DEFAULTS.dropSharelessSec,
    send_queue_max_bytes: STRATUM_DEFAULTS.sendQueueMaxBytes,
    write_timeout_sec: STRATUM_DEFAULTS.writeTimeoutSec,
    reconnect_on_shutdown: true,
  });
  assert.deepEqual(c.vardiff, {
    target_share_interval_sec: VARDIFF_DEFAULTS.targetShareIntervalSec,
    retarget_min_shares: VARDIFF_DEFAULTS.retargetMinShares,
    retarget_interval_sec: VARDIFF_DEFAULTS.retargetIntervalSec,
    variance_percent: VARDIFF_DEFAULTS.variancePercent,
  });
  assert.deepEqual(c.bans, { enabled: true, threshold: BANS_DEFAULTS.threshold, window_sec: BANS_DEFAULTS.windowSec, duration_sec: BANS_DEFAULTS.durationSec, allowlist: [], churn_per_strike: BANS_DEFAULTS.churnPerStrike });
  assert.deepEqual(c.log, { level: "info" });
  assert.deepEqual(c.zmqEndpoints, []);
  assert.deepEqual(c.warnings, []);
});

test("serverurl may be a single string (ckpool accepts both); ports above 4000 are high-diff", () => {
  const c = parseConfig({ btcd: [NODE], serverurl: "[::]:4333" }, "t", ENV);
  assert.deepEqual(c.serverurl, [{ url: "[::]:4333", host: "::", port: 4333, highdiff: true }]);
});

test("zmqblock is folded into the endpoint list after the per-node endpoints, without duplicates", () => {
  const c = parseConfig(
    { btcd: [{ ...NODE, zmqnotify: "tcp://a:28332" }, { ...NODE, url: "b:8332", zmqnotify: "tcp://b:28332" }], zmqblock: "tcp://a:28332" },
    "t",
    ENV,
  );
  assert.deepEqual(c.zmqEndpoints, [
    { endpoint: "tcp://a:28332", source: "btcd[0].zmqnotify", btcdIndex: 0 },
    { endpoint: "tcp://b:28332", source: "btcd[1].zmqnotify", btcdIndex: 1 },
  ]);
  assert.equal(c.zmqblock, "tcp://a:28332");
});

test("automatic maxclients is 90 % of the open-file limit, a written one above it is capped with a warning", () => {
  assert.equal(parseConfig({ btcd: [NODE] }, "t", { hostname: "h", openFileLimit: 1024 }).maxclients, 921);
  assert.equal(parseConfig({ btcd: [NODE] }, "t", { hostname: "h", openFileLimit: null }).maxclients, DEFAULTS.maxclientsFallback);
  assert.equal(parseConfig({ btcd: [NODE], nonce1length: 2 }, "t", ENV).maxclients, 256);
  const c = parseConfig({ btcd: [NODE], maxclients: 5000 }, "t", { hostname: "h", openFileLimit: 1024 });
  assert.equal(c.maxclients, 921);
  assert.deepEqual(c.warnings.map((w) => w.key), ["maxclients"]);
});

test("readOpenFileLimit parses the soft limit from /proc/self/limits", () => {
  const limits = "Limit                     Soft Limit           Hard Limit           Units     \nMax open files            4096                 524288               files     \n";
  assert.equal(readOpenFileLimit(() => limits), 4096);
  assert.equal(readOpenFileLimit(() => limits.replace("4096", "unlimited")), null);
  assert.equal(readOpenFileLimit(() => { throw new Error("ENOENT"); }), null);
});

test("the instance name defaults to a sanitised host name", () => {
  assert.equal(parseConfig({ btcd: [NODE] }, "t", { hostname: "my host!", openFileLimit: null }).instance, "my-host-");
  assert.equal(parseConfig({ btcd: [NODE] }, "t", { hostname: "", openFileLimit: null }).instance, "tbg");
});

test("the NATS subject prefix gets the region; servers are split", () => {
  const c = parseConfig({ btcd: [NODE], region: "asia", events: { nats: { url: "nats://a:4222, nats://b:4222", token: "t" } } }, "t", ENV);
  assert.deepEqual(c.events.nats, {
    url: "nats://a:4222, nats://b:4222",
    servers: ["nats://a:4222", "nats://b:4222"],
    stream: "MINING_EVENTS",
    subject_prefix: "mining.events.asia",
    retain_sec: 21_600,
    retain_mb: 256,
    creds_file: null,
    token: "t",
    user: null,
    pass: null,
    tls_ca_file: null,
    tls_cert_file: null,
    tls_key_file: null,
  });
});

test("a disabled relay_server is null; an enabled one gets default ports", () => {
  assert.equal(parseConfig({ btcd: [NODE], relay_server: { enabled: false, auth_token: "0123456789abcdef" } }, "t", ENV).relay_server, null);
  assert.deepEqual(parseConfig({ btcd: [NODE], relay_server: { auth_token: "0123456789abcdef" } }, "t", ENV).relay_server, {
    host: "0.0.0.0",
    port: 8880,
    template_push_port: 8881,
    auth_token: "0123456789abcdef",
  });
});

test("warnings: the same node twice, a notify interval firmware may consider dead", () => {
  const c = parseConfig({ btcd: [NODE, { ...NODE, url: "http://127.0.0.1:8332" }], update_interval: 90 }, "t", ENV);
  assert.deepEqual(c.warnings.map((w) => w.key), ["btcd[1].url", "update_interval"]);
});

test("devConfig: regtest, CPU-miner difficulty, loopback, overrides merged", () => {
  const c = devConfig({}, { hostname: "x", openFileLimit: 4096 });
  assert.equal(c.network, "regtest");
  assert.deepEqual([c.mindiff, c.startdiff], [0.0001, 0.001]);
  assert.equal(c.serverurl[0].host, "127.0.0.1");
  assert.equal(c.health.host, "127.0.0.1");
  assert.equal(c.instance, "dev");
  assert.equal(c.origin, "<dev>");
  const o = devConfig({ btcd: [{ url: "127.0.0.1:50001", auth: "a", pass: "b" }], serverurl: ["127.0.0.1:0"], health: { port: 0 }, stratum: { max_line_bytes: 8192 } });
  assert.equal(o.btcd[0].port, 50001);
  assert.equal(o.serverurl[0].port, 0);
  assert.deepEqual([o.health.host, o.health.port], ["127.0.0.1", 0]);
  assert.equal(o.stratum.max_line_bytes, 8192);
  assert.equal(o.events.socket_path, join(devConfigInput().data_dir!, "events.sock"), "the socket lives under the data dir");
});

test("devConfig refuses an invalid override like any config", () => {
  assert.throws(() => devConfig({ nonce2length: 12 }), { code: "CONFIG_INVALID" });
});

test("events.ack_socket_path: defaults next to socket_path, null turns confirmations off, a clash or an over-long path is named", () => {
  assert.equal(parseConfig({ btcd: [NODE], events: { socket_path: "/run/tbg/ev.sock" } }, "a", ENV).events.ack_socket_path, "/run/tbg/ev.sock.ack");
  assert.equal(parseConfig({ btcd: [NODE], events: { ack_socket_path: null } }, "b", ENV).events.ack_socket_path, null);
  assert.equal(parseConfig({ btcd: [NODE], events: { ack_socket_path: "/run/tbg/engine.ack", ack_window: 500 } }, "c", ENV).events.ack_window, 500);
  const keyOf = (raw: unknown) => {
    try {
      parseConfig(raw, "bad", ENV);
      return null;
    } catch (e) {
      return (e as { issues: Array<{ key: string; reason: string }> }).issues.map((i) => `${i.key}: ${i.reason}`).join("\n");
    }
  };
  assert.match(keyOf({ btcd: [NODE], events: { socket_path: "/run/a.sock", ack_socket_path: "/run/a.sock" } }) ?? "", /^events\.ack_socket_path: must differ/);
  assert.match(keyOf({ btcd: [NODE], workers: 1, events: { socket_path: `/tmp/${"x".repeat(100)}` } }) ?? "", /^events\.ack_socket_path: .* longer than 104 bytes/);
  // Stratum worker processes bind it + ".w<n>": 4 bytes less when there may be workers.
  assert.match(keyOf({ btcd: [NODE], events: { socket_path: `/tmp/${"x".repeat(92)}` } }) ?? "", /^events\.ack_socket_path: .* longer than 100 bytes/);
  assert.equal(keyOf({ btcd: [NODE], workers: 1, events: { socket_path: `/tmp/${"x".repeat(92)}` } }), null);
});

test("events.batch_max_bytes: 0 turns batching off, 65 000 is the most a reader can receive, beyond it the key is named", () => {
  assert.equal(parseConfig({ btcd: [NODE] }, "a", ENV).events.batch_max_bytes, 16_384);
  assert.equal(parseConfig({ btcd: [NODE], events: { batch_max_bytes: 0 } }, "b", ENV).events.batch_max_bytes, 0);
  assert.equal(parseConfig({ btcd: [NODE], events: { batch_max_bytes: 65_000 } }, "c", ENV).events.batch_max_bytes, 65_000);
  for (const bad of [65_001, -1, 1.5]) {
    assert.throws(() => parseConfig({ btcd: [NODE], events: { batch_max_bytes: bad } }, "d", ENV), (err: Error & { code?: string }) => err.code === "CONFIG_INVALID" && /events\.batch_max_bytes/.test(err.message), String(bad));
  }
});
