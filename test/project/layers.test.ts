// The one-way import rule (eslint/layers.js) as `.ci/run` applies it through `npx eslint .`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ESLint } from "eslint";
import { fileURLToPath } from "node:url";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { LAYERS, layerOf } from "../../eslint/layers.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const eslint = new ESLint({ cwd: root });

async function layerErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, filePath) });
  return result.messages.filter((m) => m.ruleId === "tbg/layers").map((m) => m.message);
}

test("a wrong-way import is an error: work must not import stratum", async () => {
  const errors = await layerErrors("src/core/work/new-file.ts", 'import { encodeNotify } from "../stratum/messages.ts";\nexport const x = encodeNotify;\n');
  assert.equal(errors.length, 1);
  assert.match(errors[0], /src\/core\/work must not import src\/core\/stratum/);
});

test("the same rule catches the core reaching into the app, the pipeline or the tools", async () => {
  assert.equal((await layerErrors("src/core/engine/x.ts", 'import "../../app/logger.ts";\n')).length, 1);
  assert.equal((await layerErrors("src/core/stratum/x.ts", 'export { Engine } from "../engine/engine.ts";\n')).length, 1);
  assert.equal((await layerErrors("src/pipeline/events/x.ts", 'import "../nats/publisher.ts";\n')).length, 1);
  assert.equal((await layerErrors("src/tools/miner/x.ts", 'import "../../app/run-pool.ts";\n')).length, 1);
  assert.equal((await layerErrors("src/core/shares/x.ts", 'export const m = () => import("../stratum/session.ts");\n')).length, 1);
});

test("downward imports, imports inside a folder and the shared base pass", async () => {
  assert.deepEqual(await layerErrors("src/core/stratum/x.ts", 'import "../shares/validator.ts";\nimport "../work/jobs.ts";\nimport "./framing.ts";\nimport "../../util/hex.ts";\n'), []);
  assert.deepEqual(await layerErrors("src/app/x.ts", 'import "../core/engine/engine.ts";\nimport "../pipeline/events/emitter.ts";\n'), []);
  assert.deepEqual(await layerErrors("src/cli/x.ts", 'import "../app/run-pool.ts";\nimport "../tools/miner/miner.ts";\n'), []);
});

test("a new folder under src/ must be placed in the layer table", async () => {
  const errors = await layerErrors("src/core/mempool/x.ts", "export const x = 1;\n");
  assert.equal(errors.length, 1);
  assert.match(errors[0], /not in the layer table/);
});

test("every folder of src/ is in the layer table", () => {
  const src = join(root, "src");
  const missing: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else {
        const layer = layerOf(relative(src, p).split("\\").join("/"));
        if (layer !== null && !(layer in LAYERS)) missing.push(layer);
      }
    }
  };
  walk(src);
  assert.deepEqual([...new Set(missing)], []);
});
