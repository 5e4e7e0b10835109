// The error catalogue (src/util/error-codes.ts), its page (docs/errors.md), one wrapping for listen
// failures (src/util/ports.ts), and the CLI printing what to do.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, mkdtemp } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { once } from "node:events";
import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ERROR_CATALOGUE, hintFor } from "../../src/util/error-codes.ts";
import { TbgError } from "../../src/util/errors.ts";
import { ListenError } from "../../src/util/ports.ts";
import { StatusServer } from "../../src/http/status-server.ts";
import { StratumServer } from "../../src/core/stratum/server.ts";
import type { SessionHost } from "../../src/core/stratum/session.ts";
import { formatCliError } from "../../src/cli/main.ts";

const root = new URL("../../", import.meta.url);

test("docs/errors.md lists exactly the catalogue's codes, each with its advice", async () => {
  const doc = await readFile(new URL("docs/errors.md", root), "utf8");
  const rows = new Map([...doc.matchAll(/^\| `([A-Z_]+)` \| (.+) \|$/gm)].map((m) => [m[1], m[2].replace(/\\\|/g, "|")]));
  assert.deepEqual([...rows.keys()].sort(), Object.keys(ERROR_CATALOGUE).sort());
  for (const [code, e] of Object.entries(ERROR_CATALOGUE)) assert.equal(rows.get(code), e.hint, code);
});

test("every code thrown in src/ is in the catalogue (TbgError takes only catalogue codes; this checks the text too)", async () => {
  const { readdirSync, readFileSync, statSync } = await import("node:fs");
  const found = new Set<string>();
  const walk = (dir: string) => {
    for (const n of readdirSync(dir)) {
      const p = join(dir, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith(".ts")) for (const m of readFileSync(p, "utf8").matchAll(/(?:TbgError|super|Error)\(\s*"([A-Z][A-Z0-9_]+)"/g)) found.add(m[1]);
    }
  };
  walk(new URL("src/", root).pathname);
  const unknown = [...found].filter((c) => !(c in ERROR_CATALOGUE));
  assert.deepEqual(unknown, []);
});

async function takenPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { port: (server.address() as { port: number }).port, server };
}

test("a taken port fails the same way for every listener: ListenError, PORT_IN_USE, the listener, the address and the setting named", async () => {
  const { port, server } = await takenPort();
  try {
    const http = new StatusServer({ component: "health/metrics HTTP", setting: "health.port", host: "127.0.0.1", port, health: () => ({ status: "ok" }), metrics: { metrics: async () => "", contentType: "text/plain" } });
    const e1 = await http.start().then(() => assert.fail("bound a taken port"), (e: unknown) => e);
    assert.ok(e1 instanceof ListenError);
    assert.equal(e1.code, "PORT_IN_USE");
    assert.match(e1.message, new RegExp(`^health/metrics HTTP cannot listen on 127\\.0\\.0\\.1:${port}: the port is already in use .* with health\\.port$`));

    const stratum = new StratumServer({} as SessionHost, { listen: [{ host: "127.0.0.1", port }], maxClients: 0, maxConnectionsPerIp: 0, maxLineBytes: 16384, authTimeoutSec: 60, messageRatePerSec: 0, sendQueueMaxBytes: 1 << 20, writeTimeoutSec: 30 });
    const e2 = await stratum.start().then(() => assert.fail("bound a taken port"), (e: unknown) => e);
    assert.ok(e2 instanceof ListenError);
    assert.equal(e2.code, "PORT_IN_USE");
    assert.match(e2.message, new RegExp(`^Stratum cannot listen on 127\\.0\\.0\\.1:${port}: the port is already in use .* with serverurl$`));
    await stratum.close();
  } finally {
    server.close();
  }
});

test("the CLI prints the code and what to do", () => {
  const text = formatCliError("pool", new TbgError("RPC_AUTH", "btcd[0] 127.0.0.1:8332: 401 Unauthorized"));
  assert.equal(text, `tbg pool: btcd[0] 127.0.0.1:8332: 401 Unauthorized [RPC_AUTH]\n  what to do: ${hintFor("RPC_AUTH")}`);
  assert.equal(formatCliError("pool", new Error("boom")), "tbg pool: boom");
});

test("tbg collector on a taken metrics port exits 1 with the listen error and its advice", async () => {
  const { port, server } = await takenPort();
  try {
    const dir = await mkdtemp(join(tmpdir(), "tbg-errors-"));
    const tbg = new URL("bin/tbg", root).pathname;
    const child = spawn(process.execPath, [tbg, "collector", "--socket", join(dir, "events.sock"), "--data-dir", join(dir, "db"), "--metrics-host", "127.0.0.1", "--metrics-port", String(port)], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    const [code] = (await once(child, "exit")) as [number | null];
    assert.equal(code, 1, err);
    assert.match(err, new RegExp(`collector health/metrics HTTP cannot listen on 127\\.0\\.0\\.1:${port}: .*\\[PORT_IN_USE\\]`));
    assert.ok(err.includes(`what to do: ${hintFor("PORT_IN_USE")}`), err);
  } finally {
    server.close();
  }
});
