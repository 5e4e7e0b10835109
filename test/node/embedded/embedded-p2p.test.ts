import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmbeddedNode, type EmbeddedNode } from "../../../src/tools/regtest-node/embedded-node.ts";
import { RpcClient } from "../../../src/core/bitcoind/rpc-client.ts";

describe("embedded node: two nodes peered over P2P on 127.0.0.1", () => {
  const nodes: EmbeddedNode[] = [];
  after(async () => {
    for (const n of nodes.reverse()) await n.close();
  });

  it("syncs blocks both ways, including blocks with segwit transactions", async () => {
    const a = await startEmbeddedNode({ listen: true });
    nodes.push(a);
    assert.ok(a.p2pPort !== null && a.p2pPort > 0);
    const b = await startEmbeddedNode({ peers: [`127.0.0.1:${a.p2pPort}`] });
    nodes.push(b);
    assert.equal(b.p2pPort, null);

    const [h1] = await a.mine(1);
    await b.waitForHeight(1);
    assert.equal(b.tipHash(), h1);
    assert.ok(a.peerCount() >= 1 && b.peerCount() >= 1);

    // The other direction: b's block reaches a over the same connection.
    const [h2] = await b.mine(1);
    await a.waitForHeight(2);
    assert.equal(a.tipHash(), h2);

    // Witness data must survive relay (BIP144): b validates a's block with segwit spends.
    const txids = await a.fundAndCreateSegwitTransactions(3);
    const [withTxs] = await a.mine(1);
    await b.waitForHeight(a.height());
    assert.equal(b.tipHash(), withTxs);
    const bRpc = new RpcClient({ url: b.rpcUrl, user: b.rpcUser, pass: b.rpcPass });
    try {
      const block = await bRpc.call<{ tx: Array<string | { txid: string }> }>("getblock", [withTxs, true]);
      const inBlock = block.tx.map((t) => (typeof t === "string" ? t : t.txid));
      for (const txid of txids) assert.ok(inBlock.includes(txid), `${txid} in the relayed block`);
    } finally {
      bRpc.close();
    }
  });
});

describe("embedded node: dataDir", () => {
  it("keeps the chain on disk across restarts", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tbg-node-"));
    try {
      const first = await startEmbeddedNode({ dataDir: dir });
      const [, , tip] = await first.mine(3);
      await first.close();
      const second = await startEmbeddedNode({ dataDir: dir });
      try {
        assert.equal(second.height(), 3);
        assert.equal(second.tipHash(), tip);
      } finally {
        await second.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
