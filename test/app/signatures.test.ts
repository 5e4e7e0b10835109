import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseUserSettings, UserSettingsFile, type UserSettingsError } from "../../src/app/signatures.ts";

async function waitFor(cond: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "tbg-settings-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const ALICE = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";

test("settings parse: signatures by address, bech32 keys case-insensitive, bad entries skipped with a warning", () => {
  const { users, warnings } = parseUserSettings(
    JSON.stringify({
      [ALICE.toUpperCase()]: { coinbase_signature: "/Alice/", future_setting: 1 },
      "1BoatSLRHtKNngkdXEeobR76b53LETtpyT": { coinbase_signature: "/Bob/" },
      bcrt1qempty: { coinbase_signature: "" },
      bcrt1qnum: { coinbase_signature: 42 },
      bcrt1qctl: { coinbase_signature: "a\nb" },
      bcrt1qarr: [],
      "has space": {},
    }),
  );
  assert.equal(users.get(ALICE)?.coinbase_signature, "/Alice/");
  assert.equal(users.get("1BoatSLRHtKNngkdXEeobR76b53LETtpyT")?.coinbase_signature, "/Bob/");
  assert.equal(users.has("1boatslrhtknngkdxeeobr76b53lettpyt"), false, "base58 is case-sensitive");
  assert.deepEqual(users.get("bcrt1qempty"), {});
  assert.deepEqual(users.get("bcrt1qnum"), {});
  assert.equal(warnings.length, 4, warnings.join("; "));
});

test("settings parse: a file that is not a JSON object is refused with USER_SETTINGS_INVALID", () => {
  for (const text of ["{", "[]", "null", '"x"', ""]) assert.throws(() => parseUserSettings(text), { code: "USER_SETTINGS_INVALID" }, text);
});

test("the settings file is re-read when it changes; a bad file keeps the last good settings", async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, "users.json");
  await writeFile(path, JSON.stringify({ [ALICE]: { coinbase_signature: "/Alice/" } }));
  const errors: UserSettingsError[] = [];
  const s = new UserSettingsFile({ path, debounceMs: 20, pollMs: 200, onError: (e) => errors.push(e) });
  t.after(() => s.close());
  await s.start();
  assert.equal(s.signatureFor(ALICE), "/Alice/");
  assert.equal(s.signatureFor(ALICE.toUpperCase()), "/Alice/");
  assert.equal(s.signatureFor("bcrt1qnobody"), undefined);

  // In-place rewrite.
  await writeFile(path, JSON.stringify({ [ALICE]: { coinbase_signature: "/Alice v2/" } }));
  await waitFor(() => s.signatureFor(ALICE) === "/Alice v2/", "in-place change");

  // Atomic replace (write temp, rename over): the watch follows the directory, not the old inode.
  await writeFile(join(dir, "users.json.tmp"), JSON.stringify({ [ALICE]: { coinbase_signature: "/Alice v3/" } }));
  await rename(join(dir, "users.json.tmp"), path);
  await waitFor(() => s.signatureFor(ALICE) === "/Alice v3/", "atomic replace");

  // A broken file: reported, previous settings stay.
  const version = s.version;
  await writeFile(path, '{ "bcrt1q": { "coinbase_signature": "/half');
  await waitFor(() => errors.length > 0, "error report");
  assert.equal(errors[0].code, "USER_SETTINGS_INVALID");
  assert.equal(s.signatureFor(ALICE), "/Alice v3/");
  assert.equal(s.version, version);

  // Fixed again.
  await writeFile(path, "{}");
  await waitFor(() => s.signatureFor(ALICE) === undefined, "cleared");
});

test("without fs.watch the periodic stat notices changes; a missing file at start is reported and later picked up", async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, "later.json");
  const errors: string[] = [];
  const s = new UserSettingsFile({ path, watch: false, pollMs: 25, debounceMs: 5, onError: (e) => errors.push(e.code) });
  t.after(() => s.close());
  await s.start();
  assert.deepEqual(errors, ["USER_SETTINGS_READ"]);
  assert.equal(s.signatureFor(ALICE), undefined);
  await writeFile(path, JSON.stringify({ [ALICE]: { coinbase_signature: "/later/" } }));
  await waitFor(() => s.signatureFor(ALICE) === "/later/", "file created");
  // Deleted: keeps the last good settings (reported once).
  await rm(path);
  await waitFor(() => errors.length === 2, "missing reported");
  assert.equal(s.signatureFor(ALICE), "/later/");
  assert.deepEqual(errors, ["USER_SETTINGS_READ", "USER_SETTINGS_READ"]);
});
