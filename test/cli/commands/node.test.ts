import { it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { RpcClient } from "../../../src/core/bitcoind/rpc-client.ts";

const tbg = fileURLToPath(new URL("../../../bin/tbg", import.meta.url));

it("tbg node prints its endpoints, serves RPC and exits 0 on SIGTERM", async () => {
  const child = spawn(process.execPath, [tbg, "node", "--rpc-port", "0", "--zmq-port", "0", "--pass", "pw", "--mine", "2"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.setEncoding("utf8");
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (chunk: string) => {
      out += chunk;
      if (out.includes("Ctrl-C to stop.")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`exited early (${code}): ${out}`)));
  });
  const deadline = setTimeout(() => child.kill("SIGKILL"), 20_000);
  try {
    await ready;
    const url = /RPC: +(http:\/\/\S+)/.exec(out)?.[1];
    assert.ok(url, out);
    assert.match(out, /ZMQ: +tcp:\/\/127\.0\.0\.1:\d+/);
    const rpc = new RpcClient({ url, user: "tbg", pass: "pw" });
    try {
      assert.equal((await rpc.getBlockchainInfo()).blocks, 2);
    } finally {
      rpc.close();
    }
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0);
  } finally {
    clearTimeout(deadline);
    if (child.exitCode === null) child.kill("SIGKILL");
  }
});
