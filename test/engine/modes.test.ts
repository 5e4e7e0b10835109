import { test } from "node:test";
import assert from "node:assert/strict";
import { loadConfig } from "../../src/config/load.ts";
import { Engine } from "../../src/core/engine/engine.ts";

test("a relay config (mode passthrough) is refused at start with a clear error, not run as a standalone pool", async () => {
  const config = await loadConfig(new URL("../../examples/relay.json", import.meta.url).pathname);
  assert.equal(config.mode, "passthrough");
  const engine = new Engine({ config });
  await assert.rejects(engine.start(), { code: "MODE_UNSUPPORTED", message: /passthrough/ });
  await engine.close();
});
