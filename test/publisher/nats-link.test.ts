import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { NatsLink } from "../../src/pipeline/nats/nats-link.ts";

test("close() does not wait out a connect attempt to a server that never answers (shutdown stays bounded)", async () => {
  // A TCP listener that accepts and never speaks: nats.js would wait its whole connect timeout (20 s).
  const sockets = new Set<net.Socket>();
  const silent = net.createServer((s) => sockets.add(s)).listen(0, "127.0.0.1");
  await new Promise((r) => silent.once("listening", r));
  const port = (silent.address() as net.AddressInfo).port;
  const link = new NatsLink({ url: `nats://127.0.0.1:${port}`, connectTimeoutMs: 3_000 });
  link.start();
  await new Promise((r) => setTimeout(r, 200));
  const closed = await Promise.race([link.close().then(() => "closed"), new Promise((r) => setTimeout(() => r("hung"), 8_000))]);
  assert.equal(closed, "closed");
  for (const s of sockets) s.destroy();
  silent.close();
});
