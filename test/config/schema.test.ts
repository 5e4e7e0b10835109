import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, parseConfig, type ConfigEnv, type ConfigIssue } from "../../src/config/load.ts";
import { allKeyPaths, knownKeysAt } from "../../src/config/schema.ts";

const ENV: ConfigEnv = { hostname: "test-host", openFileLimit: 100_000 };
const NODE = { url: "127.0.0.1:8332", auth: "u", pass: "p" };
const RELAY = { mode: "passthrough", region: "us-east", instance_id: 1, primary: { host: "primary", auth_token: "0123456789abcdef" } };

/** Issues of a config that must be refused. */
function issuesOf(json: unknown): ConfigIssue[] {
  try {
    parseConfig(json, "test", ENV);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.code, "CONFIG_INVALID");
    return [...err.issues];
  }
  assert.fail("config was accepted");
}

function reasonFor(json: unknown, key: string): string {
  const issues = issuesOf(json);
  const hit = issues.find((i) => i.key === key);
  assert.ok(hit, `no issue for ${key}; got ${JSON.stringify(issues)}`);
  return hit.reason;
}

test("an unknown key is refused by name, with the nearest known key suggested", () => {
  assert.match(reasonFor({ btcd: [NODE], mindif: 1 }, "mindif"), /unknown key \(did you mean "mindiff"\?\)/);
  assert.match(reasonFor({ btcd: [NODE], stratum: { max_line_byte: 1 } }, "stratum.max_line_byte"), /did you mean "max_line_bytes"/);
  assert.match(reasonFor({ btcd: [{ ...NODE, zmq: "tcp://a:1" }] }, "btcd[0].zmq"), /unknown key/);
  assert.equal(reasonFor({ btcd: [NODE], completely_different: true }, "completely_different"), "unknown key");
});

test("a __proto__ key is an ordinary unknown key", () => {
  const json = JSON.parse('{"btcd":[{"url":"a:1","auth":"u","pass":"p"}],"__proto__":{"mindiff":5}}') as unknown;
  assert.match(reasonFor(json, "__proto__"), /unknown key/);
});

test("wrong types name the full key path", () => {
  assert.match(reasonFor({ btcd: [NODE, { url: 5, auth: "u", pass: "p" }] }, "btcd[1].url"), /expected a string, got the number 5/);
  assert.match(reasonFor({ btcd: [NODE], serverurl: [7] }, "serverurl[0]"), /expected a string/);
  assert.match(reasonFor({ btcd: [NODE], serverurl: ["0.0.0.0:3333", "nohost"] }, "serverurl[1]"), /host:port/);
  assert.match(reasonFor({ btcd: [NODE], serverurl: 3333 }, "serverurl"), /"host:port" or an array/);
  assert.match(reasonFor({ btcd: [NODE], stratum: { reconnect_on_shutdown: "yes" } }, "stratum.reconnect_on_shutdown"), /expected true or false/);
  assert.match(reasonFor({ btcd: [NODE], nonce1length: 4.5 }, "nonce1length"), /expected an integer/);
  assert.match(reasonFor({ btcd: "127.0.0.1:8332" }, "btcd"), /expected an array/);
});

test("btcd is required and must list at least one node", () => {
  assert.match(reasonFor({}, "btcd"), /required/);
  assert.match(reasonFor({ btcd: [] }, "btcd"), /at least one bitcoind/);
});

test("btcd url needs a port; http URLs and IPv6 are accepted", () => {
  assert.match(reasonFor({ btcd: [{ ...NODE, url: "localhost" }] }, "btcd[0].url"), /port is required/);
  assert.match(reasonFor({ btcd: [{ ...NODE, url: "http://localhost/" }] }, "btcd[0].url"), /no port/);
  assert.match(reasonFor({ btcd: [{ ...NODE, url: "ftp://h:1" }] }, "btcd[0].url"), /http or https/);
  const c = parseConfig({ btcd: [{ ...NODE, url: "http://node.example:8332/wallet/x" }, { ...NODE, url: "[::1]:18443" }] }, "t", ENV);
  assert.deepEqual(c.btcd.map((b) => b.rpcUrl), ["http://node.example:8332/wallet/x", "http://[::1]:18443/"]);
});

test("btcd credentials: auth with pass, or a cookie file, not both, not neither", () => {
  assert.match(reasonFor({ btcd: [{ url: "h:1" }] }, "btcd[0]"), /auth.*pass.*cookie/);
  assert.match(reasonFor({ btcd: [{ url: "h:1", auth: "u" }] }, "btcd[0].pass"), /required with auth/);
  assert.match(reasonFor({ btcd: [{ url: "h:1", pass: "p" }] }, "btcd[0].auth"), /required with pass/);
  assert.match(reasonFor({ btcd: [{ url: "h:1", auth: "u", pass: "p", cookie: "/c" }] }, "btcd[0].cookie"), /not both/);
  const c = parseConfig({ btcd: [{ url: "h:1", cookie: "/var/lib/bitcoind/.cookie" }] }, "t", ENV);
  assert.deepEqual([c.btcd[0].auth, c.btcd[0].pass, c.btcd[0].cookie], [null, null, "/var/lib/bitcoind/.cookie"]);
});

test("nonce2length above 8 is refused citing the firmware limit; nonce lengths stay in 2–8", () => {
  assert.match(reasonFor({ btcd: [NODE], nonce2length: 9 }, "nonce2length"), /at most 8.*cgminer.*Whatsminer.*\(got 9\)/);
  assert.match(reasonFor({ btcd: [NODE], nonce2length: 1 }, "nonce2length"), /≥ 2/);
  assert.match(reasonFor({ btcd: [NODE], nonce1length: 9 }, "nonce1length"), /≤ 8/);
});

test("version_mask must be 8 hex digits and leave the BIP9 top bits alone", () => {
  assert.match(reasonFor({ btcd: [NODE], version_mask: "xyz" }, "version_mask"), /8 hex digits.*"xyz"/);
  assert.match(reasonFor({ btcd: [NODE], version_mask: "1fffe0000" }, "version_mask"), /8 hex digits/);
  assert.match(reasonFor({ btcd: [NODE], version_mask: "ffffffff" }, "version_mask"), /bits 29–31/);
  assert.equal(parseConfig({ btcd: [NODE], version_mask: "00000000" }, "t", ENV).version_mask, 0);
  assert.equal(parseConfig({ btcd: [NODE], version_mask: "1FFFE000" }, "t", ENV).version_mask, 0x1fffe000);
});

test("difficulties accept fractions down to 0.0001 (NerdMiner) and must be ordered", () => {
  const c = parseConfig({ btcd: [NODE], mindiff: 0.0001, startdiff: 0.5, maxdiff: 1000 }, "t", ENV);
  assert.deepEqual([c.mindiff, c.startdiff, c.maxdiff], [0.0001, 0.5, 1000]);
  assert.match(reasonFor({ btcd: [NODE], mindiff: 0.00001 }, "mindiff"), /at least 0\.0001/);
  assert.match(reasonFor({ btcd: [NODE], maxdiff: 0.00001 }, "maxdiff"), /0 \(no limit\) or at least 0\.0001/);
  assert.match(reasonFor({ btcd: [NODE], mindiff: 10, startdiff: 5 }, "startdiff"), /below mindiff 10/);
  assert.match(reasonFor({ btcd: [NODE], startdiff: 500, maxdiff: 100 }, "startdiff"), /above maxdiff 100/);
  assert.match(reasonFor({ btcd: [NODE], mindiff: 500, maxdiff: 100 }, "mindiff"), /above maxdiff/);
});

test("a default that conflicts with written bounds is clamped, not refused", () => {
  const c = parseConfig({ btcd: [NODE], mindiff: 100 }, "t", ENV);
  assert.equal(c.startdiff, 100);
  const d = parseConfig({ btcd: [NODE], maxdiff: 16 }, "t", ENV);
  assert.deepEqual([d.startdiff, d.highdiff], [16, 16]);
});

test("passthrough needs primary, region and its own instance_id", () => {
  const issues = issuesOf({ btcd: [NODE], mode: "passthrough" });
  assert.deepEqual(issues.map((i) => i.key).sort(), ["instance_id", "primary", "region"]);
  assert.match(issues.find((i) => i.key === "primary")!.reason, /required when mode is "passthrough"/);
  assert.match(reasonFor({ btcd: [NODE], ...RELAY, instance_id: 0 }, "instance_id"), /own instance_id/);
  assert.equal(parseConfig({ btcd: [NODE], ...RELAY }, "t", ENV).mode, "passthrough");
});

test("a primary block without passthrough mode is refused (it would silently run standalone)", () => {
  assert.match(reasonFor({ btcd: [NODE], primary: RELAY.primary }, "primary"), /only used when mode is "passthrough"/);
});

test("a relay cannot serve relays, and shared secrets must be long", () => {
  assert.match(reasonFor({ btcd: [NODE], ...RELAY, relay_server: { auth_token: "0123456789abcdef" } }, "relay_server"), /only a primary/);
  assert.match(reasonFor({ btcd: [NODE], ...RELAY, primary: { host: "p", auth_token: "short" } }, "primary.auth_token"), /at least 16/);
  assert.match(reasonFor({ btcd: [NODE], ...RELAY, primary: { host: "p" } }, "primary.auth_token"), /required/);
});

test("instance_id is a byte; region is a NATS subject token", () => {
  assert.match(reasonFor({ btcd: [NODE], instance_id: 256 }, "instance_id"), /≤ 255/);
  assert.match(reasonFor({ btcd: [NODE], region: "us.east" }, "region"), /NATS subject token/);
});

test("donation is a percent below 100 and needs btcaddress", () => {
  assert.equal(parseConfig({ btcd: [NODE], donation: 0.5, btcaddress: "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq" }, "t", ENV).donation, 0.5);
  assert.match(reasonFor({ btcd: [NODE], donation: 1 }, "donation"), /needs btcaddress/);
  assert.match(reasonFor({ btcd: [NODE], donation: 100, btcaddress: "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq" }, "donation"), /below 100/);
});

test("btcsolo: true is accepted, false refused (solo-only engine)", () => {
  parseConfig({ btcd: [NODE], btcsolo: true }, "t", ENV);
  assert.match(reasonFor({ btcd: [NODE], btcsolo: false }, "btcsolo"), /solo-only/);
});

test("listen addresses that cannot all bind are refused (ckpool's port clash check)", () => {
  assert.match(reasonFor({ btcd: [NODE], serverurl: ["0.0.0.0:3333", "127.0.0.1:3333"] }, "serverurl[1]"), /already used by serverurl\[0\]/);
  assert.match(reasonFor({ btcd: [NODE], serverurl: ["0.0.0.0:9100"] }, "health.port"), /already used by serverurl\[0\]/);
  parseConfig({ btcd: [NODE], serverurl: ["10.0.0.1:3333", "10.0.0.2:3333", "127.0.0.1:0", "127.0.0.1:0"] }, "t", ENV);
  parseConfig({ btcd: [NODE], serverurl: ["0.0.0.0:9100"], health: { enabled: false } }, "t", ENV);
});

test("events.types accepts only the mining event types", () => {
  assert.match(reasonFor({ btcd: [NODE], events: { types: ["share_submitted", "share"] } }, "events.types[1]"), /expected one of .*"share_submitted"/);
  assert.deepEqual(parseConfig({ btcd: [NODE], events: { types: ["block_found", "block_found"] } }, "t", ENV).events.types, ["block_found"]);
});

test("events: socket path within the Unix limit, NATS URL and seed spellings not mixed", () => {
  assert.match(reasonFor({ btcd: [NODE], events: { socket_path: `/tmp/${"x".repeat(110)}` } }, "events.socket_path"), /107 bytes/);
  assert.match(reasonFor({ btcd: [NODE], events: { nats: { url: "http://n:4222" } } }, "events.nats.url"), /nats:\/\/host:port/);
  assert.match(reasonFor({ btcd: [NODE], events: { nats: { url: "nats://a:1" }, nats_url: "nats://b:1" } }, "events.nats_url"), /conflicts/);
  assert.match(reasonFor({ btcd: [NODE], events: { nats_subject: "mining.events.x" } }, "events.nats_subject"), /needs events\.nats\.url/);
});

test("zmq endpoints must be tcp://host:port or ipc://path", () => {
  assert.match(reasonFor({ btcd: [{ ...NODE, zmqnotify: "127.0.0.1:28332" }] }, "btcd[0].zmqnotify"), /tcp:\/\/host:port/);
  assert.match(reasonFor({ btcd: [NODE], zmqblock: "tcp://127.0.0.1" }, "zmqblock"), /port/);
  parseConfig({ btcd: [{ ...NODE, zmqnotify: "ipc:///run/bitcoind/zmq.sock" }] }, "t", ENV);
});

test("bans.allowlist takes IPs and CIDR blocks", () => {
  const c = parseConfig({ btcd: [NODE], bans: { allowlist: ["10.0.0.0/8", "2001:db8::/32", "192.168.1.7"] } }, "t", ENV);
  assert.equal(c.bans.allowlist.length, 3);
  assert.match(reasonFor({ btcd: [NODE], bans: { allowlist: ["10.0.0.0/33"] } }, "bans.allowlist[0]"), /out of range/);
  assert.match(reasonFor({ btcd: [NODE], bans: { allowlist: ["example.com"] } }, "bans.allowlist[0]"), /not an IP/);
});

test("maxclients cannot exceed the extranonce1 space of nonce1length", () => {
  assert.match(reasonFor({ btcd: [NODE], nonce1length: 2, maxclients: 1000 }, "maxclients"), /256 extranonce1 values/);
});

test("schema introspection lists nested key paths and the keys of an object", () => {
  const paths = allKeyPaths();
  for (const p of ["btcd", "btcd[].url", "btcd[].zmqnotify", "events.nats.url", "stratum.max_line_bytes", "primary.template_push_port"]) assert.ok(paths.includes(p), p);
  assert.ok(knownKeysAt(["btcd", 3]).includes("cookie"));
  assert.deepEqual(knownKeysAt(["mindiff"]), []);
});

test("events.types accepts exactly the events module's event types", async () => {
  const { ALL_EVENT_TYPES } = await import("../../src/pipeline/events/types.ts");
  assert.deepEqual([...(await import("../../src/config/schema.ts")).CONFIG_EVENT_TYPES].sort(), [...ALL_EVENT_TYPES].sort());
});
