import { test } from "node:test";
import assert from "node:assert/strict";
import { COLLECTOR_DEFAULTS, parseCollectorConfig, resolveCollectorSettings } from "../../src/pipeline/collector/config.ts";

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return "no error";
};

test("no input given: the socket at the engine's default path (data_dir/events.sock), PGlite under data/, HTTP on 9101", () => {
  const s = resolveCollectorSettings({}, {});
  assert.equal(s.socketPath, "data/events.sock");
  assert.equal(s.natsUrl, null);
  assert.equal(s.databaseUrl, null);
  assert.equal(s.dataDir, "data");
  assert.deepEqual(s.http, { host: "0.0.0.0", port: 9101 });
  assert.equal(s.ackWaitSec, COLLECTOR_DEFAULTS.ackWaitSec);
});

test("NATS only unless a socket is named too; flags override the file", () => {
  assert.equal(resolveCollectorSettings({}, { natsUrl: "nats://h:4222" }).socketPath, null);
  const both = resolveCollectorSettings({ socket: "/run/tbg/ev.sock", nats_url: "nats://a:4222", region: "eu", metrics_port: null }, { natsUrl: "nats://b:4222", region: "us-east" });
  assert.equal(both.socketPath, "/run/tbg/ev.sock");
  assert.equal(both.natsUrl, "nats://b:4222");
  assert.equal(both.region, "us-east");
  assert.equal(both.http, null, "metrics_port null = no listener");
  assert.equal(resolveCollectorSettings({}, { metricsPort: "off" }).http, null);
  assert.equal(resolveCollectorSettings({}, { metricsPort: "0" }).http?.port, 0);
  assert.equal(resolveCollectorSettings({ socket_mode: "660" }, {}).socketMode, 0o660);
});

test("bad values are refused with COLLECTOR_CONFIG_INVALID, naming the key", () => {
  assert.equal(code(() => resolveCollectorSettings({}, { region: "US East" })), "COLLECTOR_CONFIG_INVALID");
  assert.equal(code(() => resolveCollectorSettings({}, { databaseUrl: "mysql://x" })), "COLLECTOR_CONFIG_INVALID");
  assert.equal(code(() => resolveCollectorSettings({}, { redisUrl: "localhost:6379" })), "COLLECTOR_CONFIG_INVALID");
  assert.equal(code(() => resolveCollectorSettings({}, { metricsPort: "99999" })), "COLLECTOR_CONFIG_INVALID");
  assert.equal(code(() => resolveCollectorSettings({}, { ackWaitSec: "0" })), "COLLECTOR_CONFIG_INVALID");
  assert.equal(code(() => parseCollectorConfig("{ nope")), "COLLECTOR_CONFIG_INVALID");
  assert.throws(() => parseCollectorConfig(JSON.stringify({ databse_url: "postgres://x/y", metrics_port: "9101" })), (err: Error) => {
    assert.match(err.message, /databse_url: unknown key/);
    assert.match(err.message, /metrics_port:/);
    return true;
  });
  const ok = parseCollectorConfig(JSON.stringify({ database_url: "postgres://u:p@h:5432/db", redis_url: "redis://h:6379", nats_url: "nats://h:4222", region: "asia" }));
  assert.equal(ok.region, "asia");
});
