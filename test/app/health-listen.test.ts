/**
 * The health/metrics HTTP port failing to bind gives the same error as every other port: PORT_IN_USE,
 * naming the component, the address and the setting to change.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { HealthServer } from "../../src/app/health.ts";
import type { Engine } from "../../src/core/engine/engine.ts";
import type { PoolMetrics } from "../../src/app/metrics.ts";

test("health port in use: PORT_IN_USE naming health/metrics HTTP, the address and health.port", async (t) => {
  const taken = net.createServer().listen(0, "127.0.0.1");
  await once(taken, "listening");
  t.after(() => new Promise<void>((r) => taken.close(() => r())));
  const port = (taken.address() as AddressInfo).port;
  // start() only binds: the sources are never read.
  const health = new HealthServer({ host: "127.0.0.1", port, engine: {} as Engine, metrics: {} as PoolMetrics, status: null });
  await assert.rejects(health.start(), (err: Error & { code?: string }) => {
    assert.equal(err.code, "PORT_IN_USE");
    assert.match(err.message, new RegExp(`health/metrics HTTP cannot listen on 127\\.0\\.0\\.1:${port}: the port is already in use`));
    assert.match(err.message, /health\.port/);
    return true;
  });
});
