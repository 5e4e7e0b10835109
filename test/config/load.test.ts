import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, writeFile, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, ConfigFileError, loadConfig, parseConfig, type ConfigEnv } from "../../src/config/load.ts";

const ENV: ConfigEnv = { hostname: "test-host", openFileLimit: 100_000 };
const examples = new URL("../../examples/", import.meta.url).pathname;

async function withTempFile(text: string, fn: (path: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "tbg-config-"));
  try {
    const path = join(dir, "pool.json");
    await writeFile(path, text);
    await fn(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test("ckpool's own sample ckpool.conf loads unchanged, trailing comment text included", async () => {
  const text = await readFile(join(examples, "ckpool.conf"), "utf8");
  assert.match(text, /Comments from here on are ignored\.\n$/);
  const c = await loadConfig(join(examples, "ckpool.conf"), ENV);
  assert.deepEqual(
    c.btcd.map((b) => [b.url, b.rpcUrl, b.auth, b.pass, b.notify]),
    [
      ["localhost:8332", "http://localhost:8332/", "user", "pass", true],
      ["backup:8332", "http://backup:8332/", "user", "pass", false],
    ],
  );
  assert.equal(c.btcaddress, "14BMjogz69qe8hk9thyzbmR5pg34mVKB1e");
  assert.equal(c.btcsig, "/mined by ck/");
  assert.equal(c.donation, 2);
  assert.equal(c.startdiff, 10000);
  assert.equal(c.mindiff, 1);
  assert.equal(c.version_mask, 0x1fffe000);
  assert.deepEqual(c.serverurl.map((s) => [s.host, s.port]), [["ckpool.org", 3333], ["node.ckpool.org", 3333], ["node.ckpool.org", 80]]);
  assert.deepEqual(c.zmqEndpoints, [{ endpoint: "tcp://127.0.0.1:28332", source: "zmqblock", btcdIndex: null }]);
  assert.equal(c.logdir, "logs");
  // ckpool-only features load but are reported, by key, as ignored.
  assert.deepEqual(c.warnings.map((w) => w.key).sort(), ["ipcmining", "ipctemplate", "nodeserver", "trusted", "upstream"]);
});

for (const name of ["pool.json", "two-nodes.json", "primary.json", "relay.json"]) {
  test(`examples/${name} loads without warnings`, async () => {
    const c = await loadConfig(join(examples, name), ENV);
    assert.deepEqual(c.warnings, []);
    assert.equal(c.origin, join(examples, name));
  });
}

test("the two-node example subscribes to each node's own ZMQ endpoint", async () => {
  const c = await loadConfig(join(examples, "two-nodes.json"), ENV);
  assert.deepEqual(c.zmqEndpoints, [
    { endpoint: "tcp://10.12.112.4:28333", source: "btcd[0].zmqnotify", btcdIndex: 0 },
    { endpoint: "tcp://10.12.112.3:28333", source: "btcd[1].zmqnotify", btcdIndex: 1 },
  ]);
});

test("the relay example is a passthrough with its own region and instance_id", async () => {
  const c = await loadConfig(join(examples, "relay.json"), ENV);
  assert.equal(c.mode, "passthrough");
  assert.equal(c.region, "us-east");
  assert.equal(c.instance_id, 1);
  assert.deepEqual(c.primary, { host: "primary.internal.thebitcoingame.com", port: 8880, auth_token: "relay-shared-secret-change-me", template_push_port: 8881, reconnect_interval: 5 });
  assert.equal(c.events.nats?.subject_prefix, "mining.events.us-east");
});

test("the primary example serves relays on the ports the relay example dials", async () => {
  const primary = await loadConfig(join(examples, "primary.json"), ENV);
  const relay = await loadConfig(join(examples, "relay.json"), ENV);
  assert.equal(primary.relay_server?.port, relay.primary?.port);
  assert.equal(primary.relay_server?.template_push_port, relay.primary?.template_push_port);
  assert.equal(primary.relay_server?.auth_token, relay.primary?.auth_token);
});

test("a ckpool signet config (ckpool-signet.conf) loads unchanged", () => {
  const c = parseConfig(
    {
      btcd: [{ url: "bitcoin-signet:38332", auth: "tbg", pass: "tbgdev2026", notify: true }],
      btcsig: "/TheBitcoinGame-dev/",
      blockpoll: 100,
      donation: 0.0,
      serverurl: ["0.0.0.0:3333"],
      mindiff: 1,
      startdiff: 1,
      maxdiff: 0,
      update_interval: 30,
      version_mask: "1fffe000",
      nonce1length: 4,
      nonce2length: 8,
      logdir: "/var/log/ckpool",
      zmqblock: "tcp://bitcoin-signet:28332",
      maxclients: 1000,
    },
    "seed-004",
    ENV,
  );
  assert.equal(c.maxclients, 1000);
  assert.equal(c.startdiff, 1);
});

test("a relay config loads once it names its instance_id (older spelling nats_url/nats_subject)", () => {
  const seedRelay = {
    mode: "passthrough",
    primary: { host: "primary.internal.thebitcoingame.com", port: 8880, auth_token: "relay-shared-secret", template_push_port: 8881, reconnect_interval: 5 },
    btcd: [{ url: "127.0.0.1:8332", auth: "rpcuser", pass: "rpcpassword", notify: true }],
    region: "us-east",
    serverurl: ["0.0.0.0:3333"],
    events: { enabled: true, socket_path: "/tmp/ckpool/events.sock", nats_url: "nats://nats.internal:4222", nats_subject: "mining.events.us-east" },
  };
  assert.throws(() => parseConfig(seedRelay, "seed-002", ENV), (e: ConfigError) => e.code === "CONFIG_INVALID" && e.issues.map((i) => i.key).join() === "instance_id");
  const c = parseConfig({ ...seedRelay, instance_id: 2 }, "seed-002", ENV);
  assert.equal(c.events.nats?.url, "nats://nats.internal:4222");
  assert.deepEqual(c.events.nats?.servers, ["nats://nats.internal:4222"]);
  assert.equal(c.events.nats?.subject_prefix, "mining.events.us-east");
});

test("a missing file is CONFIG_READ naming the path", async () => {
  await assert.rejects(loadConfig("/nonexistent/tbg/pool.json", ENV), (e: ConfigFileError) => {
    assert.equal(e.code, "CONFIG_READ");
    assert.match(e.message, /\/nonexistent\/tbg\/pool\.json: no such file/);
    return true;
  });
});

test("a JSON syntax error is CONFIG_READ with line and column", async () => {
  await withTempFile('{\n  "btcd": [],\n  "mindiff": 1,,\n}\n', async (path) => {
    await assert.rejects(loadConfig(path, ENV), (e: ConfigFileError) => {
      assert.equal(e.code, "CONFIG_READ");
      assert.equal(e.line, 3);
      assert.equal(e.column, 16);
      assert.ok(e.message.includes(`${path}:3:16: invalid JSON`), e.message);
      return true;
    });
  });
});

test("a duplicated key is refused by path (JSON.parse would silently keep the last)", async () => {
  await withTempFile('{"btcd":[{"url":"a:1","url":"b:2","auth":"u","pass":"p"}],"mindiff":1,"mindiff":2}', async (path) => {
    await assert.rejects(loadConfig(path, ENV), (e: ConfigError) => {
      assert.equal(e.code, "CONFIG_INVALID");
      assert.deepEqual(e.issues.map((i) => i.key), ["btcd[0].url", "mindiff"]);
      return true;
    });
  });
});

test("a config that is not an object is CONFIG_INVALID", async () => {
  await withTempFile("[1, 2]", async (path) => {
    await assert.rejects(loadConfig(path, ENV), (e: ConfigError) => e.code === "CONFIG_INVALID" && /JSON object/.test(e.message));
  });
});

test("a file valid as JSON but with bad keys reports every key, not the first", async () => {
  await withTempFile(JSON.stringify({ btcd: [{ url: "nohost" }], nonce2length: 9, bogus: 1 }), async (path) => {
    await assert.rejects(loadConfig(path, ENV), (e: ConfigError) => {
      assert.deepEqual(e.issues.map((i) => i.key).sort(), ["bogus", "btcd[0]", "btcd[0].url", "nonce2length"]);
      assert.equal(e.origin, path);
      return true;
    });
  });
});
