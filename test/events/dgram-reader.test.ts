import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { lstat, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DgramSocket } from "node-unix-socket";
import { DgramReader } from "../../src/pipeline/events/dgram-reader.ts";
import type { ReaderMessage } from "../../src/pipeline/events/dgram-reader.ts";
import { exampleEvent } from "./fixtures.ts";
import { tempSocketDir, waitFor } from "./helpers.ts";

/** Send raw datagrams from a plain socket, as the engine (or a C producer) would. */
async function sendRaw(path: string, payloads: (string | Buffer)[]): Promise<void> {
  const s = new DgramSocket();
  s.on("error", () => {});
  for (const p of payloads) {
    const b = typeof p === "string" ? Buffer.from(p) : p;
    await new Promise<void>((resolve, reject) => s.sendTo(b, 0, b.length, path, (err) => (err ? reject(err) : resolve())));
  }
  s.close();
}

describe("DgramReader", () => {
  it("creates the directory, binds, validates each datagram and yields them in order", async () => {
    const tmp = await tempSocketDir();
    const path = join(tmp.dir, "nested", "dir", "events.sock");
    const reader = new DgramReader({ socketPath: path, iteratorBuffer: 100, mode: 0o660 });
    await reader.start();
    assert.ok((await lstat(path)).isSocket());
    assert.equal((await lstat(path)).mode & 0o777, 0o660);
    const good = JSON.stringify(exampleEvent("block_found"));
    await sendRaw(path, [good, "{not json", JSON.stringify({ ...exampleEvent("relay_state"), region: "EU" })]);
    const got: ReaderMessage[] = [];
    for await (const m of reader.messages()) {
      got.push(m);
      if (got.length === 3) break;
    }
    assert.equal(got[0].ok, true);
    assert.equal(got[0].raw.toString(), good);
    assert.equal(got[1].ok, false);
    assert.equal(got[2].ok, false);
    if (!got[2].ok) {
      assert.match(got[2].error, /^region: /);
      assert.equal(got[2].type, "relay_state");
    }
    assert.deepEqual(reader.stats(), { received: 3, datagrams: 3, valid: 1, malformed: 2, iteratorDropped: 0, handlerErrors: 0, socketErrors: 0 });
    await reader.close();
    await assert.rejects(lstat(path), { code: "ENOENT" });
    await tmp.cleanup();
  });

  it("a datagram with several events, one per line (an engine batching), yields each on its own, raw being its line; a bad line spoils only itself", async () => {
    const tmp = await tempSocketDir();
    const reader = new DgramReader({ socketPath: tmp.path(), iteratorBuffer: 100 });
    await reader.start();
    const e1 = JSON.stringify(exampleEvent("block_found"));
    const e2 = JSON.stringify({ ...exampleEvent("relay_state"), event_id: "0190b3c4-0000-7000-8000-000000000002" });
    await sendRaw(tmp.path(), [`${e1}\n{not json\n${e2}`, `${e2}\n`]);
    const got: ReaderMessage[] = [];
    for await (const m of reader.messages()) {
      got.push(m);
      if (got.length === 4) break;
    }
    assert.deepEqual(got.map((m) => m.ok), [true, false, true, true]);
    assert.deepEqual(got.map((m) => m.raw.toString()), [e1, "{not json", e2, e2]);
    assert.deepEqual(reader.stats(), { received: 4, datagrams: 2, valid: 3, malformed: 1, iteratorDropped: 0, handlerErrors: 0, socketErrors: 0 });
    await reader.close();
    await tmp.cleanup();
  });

  it("ends the iterator on close()", async () => {
    const tmp = await tempSocketDir();
    const reader = new DgramReader({ socketPath: tmp.path(), iteratorBuffer: 10 });
    await reader.start();
    const done = (async () => {
      let n = 0;
      for await (const _ of reader.messages()) n++;
      return n;
    })();
    await sendRaw(tmp.path(), [JSON.stringify(exampleEvent("relay_state"))]);
    await waitFor(() => reader.stats().received === 1, 5_000);
    await reader.close();
    assert.equal(await done, 1);
    await tmp.cleanup();
  });

  it("takes over a stale socket file left by a dead reader", async () => {
    const tmp = await tempSocketDir();
    const dead = new DgramSocket();
    dead.bind(tmp.path());
    dead.close(); // the file stays: sending to it gives ECONNREFUSED
    assert.ok((await lstat(tmp.path())).isSocket());
    const reader = new DgramReader({ socketPath: tmp.path(), iteratorBuffer: 10 });
    await reader.start();
    await sendRaw(tmp.path(), [JSON.stringify(exampleEvent("relay_state"))]);
    await waitFor(() => reader.stats().valid === 1, 5_000);
    await reader.close();
    await tmp.cleanup();
  });

  it("refuses to steal the path from a live reader, which does not see the probe", async () => {
    const tmp = await tempSocketDir();
    const seen: ReaderMessage[] = [];
    const live = new DgramReader({ socketPath: tmp.path(), onMessage: (m) => seen.push(m) });
    await live.start();
    const second = new DgramReader({ socketPath: tmp.path() });
    await assert.rejects(second.start(), { code: "EVENTS_SOCKET_IN_USE" });
    await sendRaw(tmp.path(), [JSON.stringify(exampleEvent("relay_state"))]);
    await waitFor(() => seen.length === 1, 5_000, "live reader still bound");
    assert.equal(live.stats().received, 1);
    await second.close(); // never bound: must not remove the live reader's file
    assert.ok((await lstat(tmp.path())).isSocket());
    await live.close();
    await tmp.cleanup();
  });

  it("refuses to remove a path that is not a socket", async () => {
    const tmp = await tempSocketDir();
    await writeFile(tmp.path(), "precious");
    await assert.rejects(new DgramReader({ socketPath: tmp.path() }).start(), { code: "EVENTS_SOCKET_BIND" });
    assert.equal(await readFile(tmp.path(), "utf8"), "precious");
    await tmp.cleanup();
  });

  it("counts a throwing handler and a full iterator buffer instead of failing", async () => {
    const tmp = await tempSocketDir();
    const reader = new DgramReader({
      socketPath: tmp.path(),
      iteratorBuffer: 2,
      onMessage: () => {
        throw new Error("handler bug");
      },
    });
    await reader.start();
    const ev = JSON.stringify(exampleEvent("relay_state"));
    await sendRaw(tmp.path(), [ev, ev, ev, ev]);
    await waitFor(() => reader.stats().received === 4, 5_000);
    assert.equal(reader.stats().handlerErrors, 4);
    assert.equal(reader.stats().iteratorDropped, 2);
    await reader.close();
    await tmp.cleanup();
  });

  it("refuses a socket path longer than sockaddr_un allows", () => {
    assert.throws(() => new DgramReader({ socketPath: `/tmp/${"x".repeat(120)}` }), { code: "EVENTS_CONFIG_INVALID" });
  });
});
