/**
 * How the tests find TimescaleDB and what they say when it is missing (test/support/servers.ts), and
 * the two quick paths of scripts/build-timescaledb.sh (nothing to build; already installed).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { TIMESCALEDB_BUILD_SCRIPT, timescaledbSkip, timescaledbStatus, vendoredTimescaledb } from "./servers.ts";

const run = promisify(execFile);

/** A fake PostgreSQL bin dir whose pg_config points at empty share/ and lib/ dirs under `root`. */
function fakePg(root: string): string {
  const bin = join(root, "bin");
  mkdirSync(join(root, "share", "extension"), { recursive: true });
  mkdirSync(join(root, "lib"), { recursive: true });
  mkdirSync(bin);
  writeFileSync(join(bin, "pg_config"),
    `#!/bin/sh\ncase "$1" in --sharedir) echo "${root}/share";; --pkglibdir) echo "${root}/lib";; *) exit 1;; esac\n`);
  chmodSync(join(bin, "pg_config"), 0o755);
  return bin;
}

/** Runs `fn` with environment variable `name` set to `value` (undefined = unset), then restores it. */
function withEnv<T>(name: string, value: string | undefined, fn: () => T): T {
  const saved = process.env[name];
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
  try {
    return fn();
  } finally {
    if (saved === undefined) delete process.env[name];
    else process.env[name] = saved;
  }
}

test("timescaledbStatus says what is missing: the control file, then the library it names; then it is installed", (t) => {
  const root = mkdtempSync(join(tmpdir(), "tbg-fakepg-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const bin = fakePg(root);
  const { version } = vendoredTimescaledb();
  assert.match(version, /^\d+\.\d+\.\d+$/);

  const absent = withEnv("TBG_TIMESCALEDB_TARBALL", join(root, "no-such.tar.gz"), () => timescaledbStatus(bin));
  assert.equal(absent.installed, false);
  assert.match(!absent.installed ? absent.reason : "", new RegExp(`^TimescaleDB is not installed \\(no ${root}/share/extension/timescaledb.control\\); the vendored source .*no-such.tar.gz is absent`));

  writeFileSync(join(root, "tarball.tar.gz"), "");
  const buildable = withEnv("TBG_TIMESCALEDB_TARBALL", join(root, "tarball.tar.gz"), () => timescaledbStatus(bin));
  assert.match(!buildable.installed ? buildable.reason : "", /run scripts\/build-timescaledb.sh as root \(builds .*tarball.tar.gz\)$/);

  writeFileSync(join(root, "share", "extension", "timescaledb.control"), "comment = 'x'\ndefault_version = '9.8.7'\n");
  const partial = timescaledbStatus(bin);
  assert.match(!partial.installed ? partial.reason : "", new RegExp(`^TimescaleDB 9.8.7 is incomplete \\(no ${root}/lib/timescaledb-9.8.7.so\\)`));

  writeFileSync(join(root, "lib", "timescaledb-9.8.7.so"), "");
  assert.deepEqual(timescaledbStatus(bin), { installed: true, version: "9.8.7" });
});

test("timescaledbSkip: the reason when TimescaleDB is missing, false when installed or when TBG_REQUIRE_TIMESCALEDB=1", () => {
  const missing = { installed: false as const, reason: "TimescaleDB is not installed (test)" };
  assert.equal(withEnv("TBG_REQUIRE_TIMESCALEDB", undefined, () => timescaledbSkip(missing)), missing.reason);
  assert.equal(withEnv("TBG_REQUIRE_TIMESCALEDB", "1", () => timescaledbSkip(missing)), false);
  assert.equal(withEnv("TBG_REQUIRE_TIMESCALEDB", undefined, () => timescaledbSkip({ installed: true, version: "2.28.3" })), false);
});

test("build-timescaledb.sh without the vendored tarball builds nothing, says so and succeeds", async () => {
  const { stdout } = await run(TIMESCALEDB_BUILD_SCRIPT, [], { env: { ...process.env, TBG_TIMESCALEDB_TARBALL: "/nonexistent/timescaledb.tar.gz" } });
  assert.match(stdout, /timescaledb: \/nonexistent\/timescaledb.tar.gz not found; not building \(TimescaleDB tests will be skipped\)/);
});

const installed = timescaledbStatus();
const pinned = vendoredTimescaledb().version;
test("build-timescaledb.sh does nothing when its version is already installed", {
  skip: installed.installed && installed.version === pinned ? false : `TimescaleDB ${pinned} is not installed here`,
}, async (t) => {
  // Any existing file passes the tarball check; the installed check comes before anything is unpacked.
  const dir = mkdtempSync(join(tmpdir(), "tbg-tsdb-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "not-a-tarball.tar.gz"), "");
  const { stdout } = await run(TIMESCALEDB_BUILD_SCRIPT, [], { env: { ...process.env, TBG_TIMESCALEDB_TARBALL: join(dir, "not-a-tarball.tar.gz") } });
  assert.match(stdout, new RegExp(`timescaledb: ${pinned.replaceAll(".", "\\.")} already installed for PostgreSQL \\d+`));
});
