import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, ConfigFileError, formatConfigError, formatConfigWarnings, parseConfig } from "../../src/config/load.ts";
import { formatKeyPath } from "../../src/config/errors.ts";
import { TbgError } from "../../src/util/errors.ts";

test("formatConfigError names every offending key with its reason, one per line", () => {
  let text = "";
  try {
    parseConfig({ btcd: [{ url: "a:1", auth: "u", pass: "p" }, { url: 1 }], nonce2length: 9, mode: "passthrough", serverurl: ["x"], bogus: true }, "bad.json");
  } catch (err) {
    assert.ok(err instanceof ConfigError && err instanceof TbgError);
    text = formatConfigError(err);
  }
  const lines = text.split("\n");
  assert.match(lines[0], /^invalid config bad\.json \(\d+ problems\):$/);
  const keys = lines.slice(1).map((l) => /^ {2}(\S+): /.exec(l)?.[1]);
  for (const k of ["btcd[1].url", "btcd[1]", "nonce2length", "serverurl[0]", "bogus", "primary", "region", "instance_id"]) assert.ok(keys.includes(k), `${k} missing from:\n${text}`);
  assert.ok(lines.slice(1).every((l) => /^ {2}\S+: \S/.test(l)), text);
});

test("issues follow the order of keys in the file", () => {
  try {
    parseConfig({ nonce2length: 9, btcd: [{ url: 5 }], mindif: 1 }, "t");
    assert.fail("accepted");
  } catch (err) {
    const keys = (err as ConfigError).issues.map((i) => i.key);
    assert.deepEqual(keys, ["nonce2length", "btcd[0].url", "btcd[0]", "mindif"]);
  }
});

test("formatConfigError passes other errors through as text", () => {
  assert.equal(formatConfigError(new ConfigFileError("p", "cannot read config file p: no such file")), "cannot read config file p: no such file");
  assert.equal(formatConfigError(new Error("boom")), "boom");
  assert.equal(formatConfigError("plain"), "plain");
});

test("error codes are stable", () => {
  assert.equal(new ConfigError("o", [{ key: "k", reason: "r" }]).code, "CONFIG_INVALID");
  assert.equal(new ConfigFileError("p", "m").code, "CONFIG_READ");
});

test("key paths are written as an operator would type them", () => {
  assert.equal(formatKeyPath(["btcd", 1, "url"]), "btcd[1].url");
  assert.equal(formatKeyPath(["serverurl", 0]), "serverurl[0]");
  assert.equal(formatKeyPath(["events", "a b"]), 'events["a b"]');
  assert.equal(formatKeyPath([]), "");
});

test("warnings format one per line", () => {
  assert.equal(formatConfigWarnings([{ key: "upstream", reason: "ignored" }, { key: "trusted", reason: "ignored" }]), "  upstream: ignored\n  trusted: ignored");
});
