/**
 * Issue 12 §4: the event socket cannot be taken over by another local user. Real sockets, real
 * directories with real owners and modes (the tests run as root, so `chown` stands in for another user).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmod, chown, mkdir, mkdtemp, rm, symlink, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { DgramSocket } from "node-unix-socket";
import { DgramReader } from "../../src/pipeline/events/dgram-reader.ts";
import { UnixDgramSink } from "../../src/pipeline/events/sinks/unix-dgram.ts";
import { Collector } from "../../src/pipeline/collector/collector.ts";
import { buildCollectorHealth } from "../../src/pipeline/collector/http.ts";
import { resolveCollectorSettings } from "../../src/pipeline/collector/config.ts";
import { devConfig } from "../../src/config/load.ts";
import { rejectsWithCode } from "../support/assert.ts";
import { startPostgres } from "../support/servers.ts";
import { waitFor } from "../support/wait.ts";
import { makeShares } from "../storage/fixtures.ts";

const NOBODY = 65534;

test("a socket directory owned by another user, or writable by all without the sticky bit, is refused by the reader and by the engine's sink", async (t) => {
  const base = await mkdtemp(join(tmpdir(), "tbg-sockdir-"));
  t.after(() => rm(base, { recursive: true, force: true }));
  if (process.geteuid?.() !== 0) return t.skip("needs root to chown");

  // The attack: another user created the directory first (as with /tmp/ckpool).
  const theirs = join(base, "ckpool");
  await mkdir(theirs);
  await chown(theirs, NOBODY, NOBODY);
  const err = await rejectsWithCode(new DgramReader({ socketPath: join(theirs, "events.sock") }).start(), "EVENTS_SOCKET_DIR_UNSAFE");
  assert.match(err.message, /owned by uid 65534/);
  await rejectsWithCode(new UnixDgramSink({ socketPath: join(theirs, "events.sock") }).start(), "EVENTS_SOCKET_DIR_UNSAFE");

  // World-writable without the sticky bit: anyone may unlink our socket.
  const open = join(base, "open");
  await mkdir(open);
  await chmod(open, 0o777);
  const err2 = await rejectsWithCode(new DgramReader({ socketPath: join(open, "events.sock") }).start(), "EVENTS_SOCKET_DIR_UNSAFE");
  assert.match(err2.message, /open is writable by every user: use a directory of its own/);

  // World-writable with the sticky bit (like /tmp or /dev/shm): another user can bind the name first: refused.
  const sticky = join(base, "sticky");
  await mkdir(sticky);
  await chmod(sticky, 0o1777);
  const err3 = await rejectsWithCode(new DgramReader({ socketPath: join(sticky, "events.sock") }).start(), "EVENTS_SOCKET_DIR_UNSAFE");
  assert.match(err3.message, /writable by every user \(the sticky bit does not help/);
  await rejectsWithCode(new UnixDgramSink({ socketPath: join(sticky, "events.sock") }).start(), "EVENTS_SOCKET_DIR_UNSAFE");
  // Sticky is fine on a directory above the socket's own (as /tmp above our private directory).
  await mkdir(join(sticky, "mine"), { mode: 0o750 });
  const ok = new DgramReader({ socketPath: join(sticky, "mine", "events.sock") });
  await ok.start();
  await ok.close();
  // A missing directory is created 0750.
  const created = new DgramReader({ socketPath: join(base, "new", "dir", "events.sock") });
  await created.start();
  await created.close();
});

test("the collector notices when its socket path no longer names its socket: health degraded and an error logged; a removed path is bound again", async (t) => {
  const cleanups: Array<() => unknown> = [];
  t.after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });
  const pg = await startPostgres();
  const dir = await mkdtemp(join(tmpdir(), "tbg-sockwatch-"));
  cleanups.push(() => Promise.all([pg.close(), rm(dir, { recursive: true, force: true })]));
  const socketPath = join(dir, "events.sock");
  const lines: string[] = [];
  const collector = new Collector({
    socketPath, databaseUrl: pg.url, region: "eu", batch: { flushIntervalMs: 50 }, defaultMetrics: false, socketWatchIntervalMs: 100,
    log: pino({ level: "info" }, { write: (l: string) => void lines.push(l) }),
  });
  await collector.start();
  cleanups.push(() => collector.close());
  const health = () => buildCollectorHealth(collector.stats());
  assert.equal(health().status, "ok");

  // The hijack: unlink the collector's socket and bind another one at the path.
  await unlink(socketPath);
  const thief = new DgramSocket();
  thief.bind(socketPath);
  cleanups.push(() => thief.close());
  await waitFor(() => health().status === "degraded", "health degraded", 5000);
  assert.match(health().problems.join("\n"), /no longer names the socket this collector reads/);
  assert.ok(lines.some((l) => /"level":50/.test(l) && /another process replaced it/.test(l)), "an error line");

  // The thief leaves: the path is free, the collector binds it again and events flow.
  thief.close();
  await unlink(socketPath);
  await waitFor(() => health().status === "ok", "health ok again", 5000);
  assert.equal(collector.stats().socket?.rebinds, 1);
  const sender = new DgramSocket();
  cleanups.push(() => sender.close());
  for (const e of makeShares(5, { startUs: Date.now() * 1000 })) {
    const buf = Buffer.from(JSON.stringify(e));
    sender.sendTo(buf, 0, buf.length, socketPath);
  }
  await waitFor(() => collector.stats().batcher.stored === 5, "events stored after the re-bind");
});

test("defaults: the socket lives under the data dir (engine, collector, tbg dev), so two instances with their own data dirs never share one", async () => {
  const a = devConfig({ data_dir: "/srv/a" });
  const b = devConfig({ data_dir: "/srv/b" });
  assert.notEqual(a.events.socket_path, b.events.socket_path);
  const settings = resolveCollectorSettings({}, { dataDir: "/var/lib/tbg" });
  assert.equal(settings.socketPath, "/var/lib/tbg/events.sock");
  const base = await mkdtemp(join(tmpdir(), "tbg-twodev-"));
  try {
    // Two readers on their own data dirs bind side by side; a second one on the same path is refused.
    const r1 = new DgramReader({ socketPath: join(base, "one", "events.sock") });
    const r2 = new DgramReader({ socketPath: join(base, "two", "events.sock") });
    await r1.start();
    await r2.start();
    await rejectsWithCode(new DgramReader({ socketPath: join(base, "one", "events.sock") }).start(), "EVENTS_SOCKET_IN_USE");
    await r1.close();
    await r2.close();
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});

test("a symlinked component (like /var/run -> /run) is resolved and its real directories checked, not refused", async (t) => {
  const base = await mkdtemp(join(tmpdir(), "tbg-socklink-"));
  t.after(() => rm(base, { recursive: true, force: true }));
  const real = join(base, "run");
  await mkdir(join(real, "tbg"), { recursive: true, mode: 0o750 });
  await symlink(real, join(base, "varrun"));
  const r = new DgramReader({ socketPath: join(base, "varrun", "tbg", "events.sock") });
  await r.start();
  await r.close();
  // A symlink to a world-writable directory is still refused, naming the real directory.
  const open = join(base, "open");
  await mkdir(open);
  await chmod(open, 0o777);
  await symlink(open, join(base, "link-to-open"));
  const err = await rejectsWithCode(new DgramReader({ socketPath: join(base, "link-to-open", "events.sock") }).start(), "EVENTS_SOCKET_DIR_UNSAFE");
  assert.match(err.message, new RegExp(`${open} is writable by every user`));
});

test("the engine's sink refuses to send to a socket another user bound at its path: counted, state no_reader, clear error", async (t) => {
  if (process.geteuid?.() !== 0) return t.skip("needs root to chown");
  const base = await mkdtemp(join(tmpdir(), "tbg-sockowner-"));
  const socketPath = join(base, "events.sock");
  const thief = new DgramSocket();
  thief.bind(socketPath);
  let received = 0;
  thief.on("data", () => void received++);
  t.after(async () => {
    thief.close();
    await rm(base, { recursive: true, force: true });
  });
  await chown(socketPath, NOBODY, NOBODY);
  const sink = new UnixDgramSink({ socketPath });
  await sink.start();
  sink.send(Buffer.from("{}"), "share_submitted");
  await waitFor(() => sink.stats().ownerRefusals > 0, "refused");
  assert.equal(sink.stats().state, "no_reader");
  assert.match(sink.stats().lastError ?? "", /socket of uid 65534, not of this user/);
  assert.equal(sink.stats().sent, 0);
  // The reader's own socket (ours) is fine again.
  await chown(socketPath, 0, 0);
  await waitFor(() => sink.stats().sent === 1, "sent once the socket is ours", 10_000);
  await waitFor(() => received === 1, "the reader receiving it", 10_000);
  await sink.close();
  assert.equal(received, 1);
});
