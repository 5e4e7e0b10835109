/**
 * The share hash (src/core/bitcoin/share-hash.ts): the native addon and the JavaScript fallback give the
 * same bytes as a plain node:crypto computation, and the fallback is what runs without the addon.
 * Where the addon is not built these native checks are skipped, unless TBG_REQUIRE_NATIVE=1 (CI) makes
 * a missing addon a failure.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fc from "fast-check";
import { concatBranch, jsShareHash, nativeShareHash, shareHash, shareHashImpl, type ShareHashFn } from "../../src/core/bitcoin/share-hash.ts";

const sha256d = (b: Buffer) => createHash("sha256").update(createHash("sha256").update(b).digest()).digest();
const requireNative = process.env.TBG_REQUIRE_NATIVE === "1";
const skipNative = nativeShareHash === null && !requireNative ? "native addon not built (npm install builds it; TBG_REQUIRE_NATIVE=1 makes this a failure)" : false;

/** The share hash written out step by step. */
function reference(coinb1: Buffer, en1: Buffer, en2: Buffer, coinb2: Buffer, branch: Buffer[], header: Buffer): { header: Buffer; hash: Buffer } {
  let root = sha256d(Buffer.concat([coinb1, en1, en2, coinb2]));
  for (const b of branch) root = sha256d(Buffer.concat([root, b]));
  const h = Buffer.from(header);
  root.copy(h, 36);
  return { header: h, hash: sha256d(h) };
}

const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max }).map((a) => Buffer.from(a));
const shareInputs = fc.record({
  coinb1: bytes(0, 200),
  en1: bytes(0, 8),
  en2: bytes(0, 16),
  coinb2: bytes(0, 300),
  branch: fc.array(bytes(32, 32), { maxLength: 14 }),
  header: bytes(80, 80),
});

function check(fn: ShareHashFn, runs: number): void {
  fc.assert(
    fc.property(shareInputs, ({ coinb1, en1, en2, coinb2, branch, header }) => {
      const want = reference(coinb1, en1, en2, coinb2, branch, header);
      const h = Buffer.from(header);
      const out = Buffer.alloc(32);
      fn(coinb1, en1, en2, coinb2, concatBranch(branch), h, out);
      assert.deepEqual(h, want.header);
      assert.deepEqual(out, want.hash);
    }),
    { numRuns: runs },
  );
}

test("JavaScript share hash = coinbase txid up the branch into the header, double SHA-256", () => check(jsShareHash, 300));

test("native share hash gives the same bytes as the step-by-step computation (random inputs)", { skip: skipNative }, () => {
  assert.ok(nativeShareHash, "the native addon did not load (TBG_REQUIRE_NATIVE=1)");
  check(nativeShareHash.shareHash, 3000);
});

test("native sha256d matches node:crypto at every length across block boundaries", { skip: skipNative }, () => {
  assert.ok(nativeShareHash);
  for (let n = 0; n <= 260; n++) {
    const data = Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + n) & 0xff));
    const out = Buffer.alloc(32);
    nativeShareHash.sha256d(data, out);
    assert.deepEqual(out, sha256d(data), `length ${n}`);
  }
});

test("native share hash refuses malformed arguments instead of reading past them", { skip: skipNative }, () => {
  const native = nativeShareHash;
  assert.ok(native);
  const b = Buffer.alloc(0);
  assert.throws(() => native.shareHash(b, b, b, b, Buffer.alloc(31), Buffer.alloc(80), Buffer.alloc(32)), RangeError);
  assert.throws(() => native.shareHash(b, b, b, b, b, Buffer.alloc(79), Buffer.alloc(32)), RangeError);
  assert.throws(() => native.shareHash(b, b, b, b, b, Buffer.alloc(80), Buffer.alloc(16)), RangeError);
  assert.throws(() => (native.shareHash as (...a: unknown[]) => void)(b, b, "00", b, b, Buffer.alloc(80), Buffer.alloc(32)), TypeError);
});

test("the engine uses the addon when it is built, and the JavaScript hash with TBG_NATIVE=0", () => {
  if (nativeShareHash) {
    assert.equal(shareHash, nativeShareHash.shareHash);
    assert.match(shareHashImpl, process.env.TBG_NATIVE_PORTABLE ? /^portable$/ : /^(sha-ni|portable)$/);
  } else {
    assert.ok(!requireNative, "TBG_REQUIRE_NATIVE=1 but the native addon did not load");
    assert.equal(shareHash, jsShareHash);
  }
  const child = spawnSync(process.execPath, ["--import", "tsx", "-e", 'import("./src/core/bitcoin/share-hash.ts").then((m) => console.log(m.shareHashImpl, m.shareHash === m.jsShareHash))'], {
    env: { ...process.env, TBG_NATIVE: "0" },
    encoding: "utf8",
  });
  assert.equal(child.status, 0, child.stderr);
  assert.equal(child.stdout.trim(), "js true");
});

test("the addon's portable C SHA-256 (CPUs without SHA extensions) passes the same checks", { skip: skipNative || process.env.TBG_NATIVE_PORTABLE ? "already the portable run" : false }, () => {
  const env: NodeJS.ProcessEnv = { ...process.env, TBG_NATIVE_PORTABLE: "1" };
  delete env.NODE_TEST_CONTEXT; // a test file run by this test's runner would report to it, not to stdout
  const child = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-reporter=tap", "test/bitcoin/share-hash.test.ts"], { env, encoding: "utf8" });
  assert.equal(child.status, 0, child.stdout + child.stderr);
  assert.match(child.stdout, /# pass 5/);
});
