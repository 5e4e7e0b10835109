import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { startEmbeddedNode, type EmbeddedNode } from "../../../src/tools/regtest-node/embedded-node.ts";
import { RpcClient } from "../../../src/core/bitcoind/rpc-client.ts";
import { RpcRemoteError } from "../../../src/core/bitcoind/errors.ts";
import { rejectsWithCode } from "../../support/assert.ts";

describe("embedded node: bitcoind-compatible RPC", () => {
  let node: EmbeddedNode;
  let rpc: RpcClient;
  before(async () => {
    node = await startEmbeddedNode();
    rpc = new RpcClient({ url: node.rpcUrl, user: node.rpcUser, pass: node.rpcPass });
  });
  after(async () => {
    rpc?.close();
    await node?.close();
  });

  it("starts at the regtest genesis block", async () => {
    const info = await rpc.getBlockchainInfo();
    assert.equal(info.chain, "regtest");
    assert.equal(info.blocks, 0);
    assert.equal(info.bestblockhash, "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206");
    assert.equal(info.initialblockdownload, false);
    assert.equal(node.height(), 0);
    assert.equal(node.tipHash(), info.bestblockhash);
  });

  it("rejects wrong credentials with RPC_AUTH", async () => {
    const bad = new RpcClient({ url: node.rpcUrl, user: node.rpcUser, pass: "wrong" });
    try {
      await rejectsWithCode(bad.getBestBlockHash(), "RPC_AUTH");
    } finally {
      bad.close();
    }
  });

  it("has segwit active from genesis: the template requires it and carries a witness commitment", async () => {
    const t = await rpc.getBlockTemplate(["segwit"]);
    assert.ok(t.rules.includes("!segwit"), `rules: ${t.rules.join(",")}`);
    assert.ok(t.rules.includes("csv"));
    assert.match(t.default_witness_commitment ?? "", /^6a24aa21a9ed[0-9a-f]{64}$/);
    assert.equal(t.height, node.height() + 1);
    assert.equal(t.previousblockhash, node.tipHash());
    assert.equal(t.bits, "207fffff");
    // Like Bitcoin Core: a client that does not claim segwit support is refused (-8).
    const err = await rejectsWithCode(rpc.call("getblocktemplate", [{ rules: [] }]), "RPC_REMOTE");
    assert.equal((err as RpcRemoteError).rpcCode, -8);
  });

  it("mine() advances the height and the RPC view agrees", async () => {
    const start = node.height();
    const hashes = await node.mine(3);
    assert.equal(hashes.length, 3);
    assert.equal(node.height(), start + 3);
    assert.equal(await rpc.getBestBlockHash(), hashes[2]);
    assert.equal(await rpc.getBlockHash(start + 1), hashes[0]);
    const header = await rpc.getBlockHeader(hashes[1]);
    assert.equal(header.height, start + 2);
    assert.equal(header.previousblockhash, hashes[0]);
    assert.equal(header.nextblockhash, hashes[2]);
    assert.equal(header.bits, "207fffff");
    assert.equal(header.confirmations, 2);
    // BIP34 enforced from height 1 as on Core's regtest (bcoin's own regtest has it at 100000000).
    const raw = await rpc.call<{ softforks: Array<{ id: string; reject: { status: boolean } }> }>("getblockchaininfo");
    assert.equal(raw.softforks.find((f) => f.id === "bip34")?.reject.status, true);
  });

  it("getblockhash beyond the tip is RPC_REMOTE -8 and an unknown header -5, as on Core", async () => {
    const err = await rejectsWithCode(rpc.getBlockHash(node.height() + 10), "RPC_REMOTE");
    assert.equal((err as RpcRemoteError).rpcCode, -8);
    const err2 = await rejectsWithCode(rpc.getBlockHeader("ab".repeat(32)), "RPC_REMOTE");
    assert.equal((err2 as RpcRemoteError).rpcCode, -5);
  });

  it("puts segwit transactions with witness data in the mempool and the template", async () => {
    const txids = await node.fundAndCreateSegwitTransactions(5);
    assert.equal(txids.length, 5);
    assert.equal(node.mempoolSize(), 5);
    const t = await rpc.getBlockTemplate(["segwit"]);
    assert.deepEqual(new Set(t.transactions.map((tx) => tx.txid)), new Set(txids));
    for (const tx of t.transactions) {
      assert.notEqual(tx.hash, tx.txid, "wtxid differs from txid: the transaction has witness data");
      assert.match(tx.data, /^0[12]0000000001/, "BIP144 serialization: marker 00, flag 01");
      assert.ok(tx.fee > 0 && tx.weight > 0);
    }
    assert.equal(t.coinbasevalue, 5_000_000_000 / 2 ** Math.floor(t.height / 150) + t.transactions.reduce((s, tx) => s + tx.fee, 0));
    assert.match(t.default_witness_commitment ?? "", /^6a24aa21a9ed/);
    // Mining them empties the mempool.
    await node.mine(1);
    assert.equal(node.mempoolSize(), 0);
    // A second call reuses the matured coinbases (no 100-block funding round again).
    const before = node.height();
    assert.equal((await node.fundAndCreateSegwitTransactions(2)).length, 2);
    assert.ok(node.height() - before < 10, `mined ${node.height() - before} blocks for the second funding`);
    await node.mine(1);
  });

  it("validateaddress answers in Bitcoin Core's shape with Core's regtest prefixes", async () => {
    const mine = await rpc.validateAddress(node.address);
    assert.match(node.address, /^bcrt1q/);
    assert.equal(mine.isvalid, true);
    assert.equal(mine.iswitness, true);
    assert.equal(mine.witness_version, 0);
    assert.equal(mine.isscript, false);
    assert.equal(mine.scriptPubKey?.slice(0, 4), "0014");
    // A testnet/regtest P2PKH address (prefix 0x6f), valid on Core's regtest.
    const legacy = await rpc.validateAddress("mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn");
    assert.equal(legacy.isvalid, true);
    assert.equal(legacy.iswitness, false);
    assert.equal((await rpc.validateAddress("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq")).isvalid, false, "mainnet address");
    assert.equal((await rpc.validateAddress("not an address")).isvalid, false);
  });

  it("submitblock answers like Core: duplicate, inconclusive (side chain), prev-blk-not-found, -22 on garbage", async () => {
    // Blocks from an independent node are valid here too (same genesis, same rules).
    const other = await startEmbeddedNode();
    const otherRpc = new RpcClient({ url: other.rpcUrl, user: other.rpcUser, pass: other.rpcPass });
    try {
      const tipHex = await rpc.call<string>("getblock", [node.tipHash(), false]);
      assert.equal(await rpc.submitBlock(tipHex), "duplicate");

      const [b1, b2] = await other.mine(2);
      const b1Hex = await otherRpc.call<string>("getblock", [b1, false]);
      const b2Hex = await otherRpc.call<string>("getblock", [b2, false]);
      // b2 alone: its parent is unknown here.
      assert.equal(await rpc.submitBlock(b2Hex), "prev-blk-not-found");
      // b1 extends genesis: a valid side-chain block that does not become the tip.
      const tipBefore = node.tipHash();
      assert.equal(await rpc.submitBlock(b1Hex), "inconclusive");
      assert.equal(node.tipHash(), tipBefore);

      const err = await rejectsWithCode(rpc.submitBlock("00"), "RPC_REMOTE");
      assert.equal((err as RpcRemoteError).rpcCode, -22);
    } finally {
      otherRpc.close();
      await other.close();
    }
  });

  it("submitblock accepts a valid block that extends the tip (null) and rejects a corrupted one with a reason", async () => {
    const fresh = await startEmbeddedNode();
    const source = await startEmbeddedNode();
    const freshRpc = new RpcClient({ url: fresh.rpcUrl, user: fresh.rpcUser, pass: fresh.rpcPass });
    const sourceRpc = new RpcClient({ url: source.rpcUrl, user: source.rpcUser, pass: source.rpcPass });
    try {
      const [b1] = await source.mine(1);
      const b1Hex = await sourceRpc.call<string>("getblock", [b1, false]);
      // Flip a byte of the merkle root (header bytes 36..67): the PoW check runs first on regtest's easy
      // target only half the time, so accept either of the two reasons Core would give.
      const corrupt = b1Hex.slice(0, 72) + (b1Hex[72] === "0" ? "1" : "0") + b1Hex.slice(73);
      const reason = await freshRpc.submitBlock(corrupt);
      assert.ok(reason === "bad-txnmrklroot" || reason === "high-hash", `reason: ${reason}`);
      assert.equal(await freshRpc.submitBlock(b1Hex), null);
      assert.equal(fresh.tipHash(), b1);
    } finally {
      freshRpc.close();
      sourceRpc.close();
      await fresh.close();
      await source.close();
    }
  });

  it("stopRpc() refuses connections and startRpc() serves again on the same URL", async () => {
    const url = node.rpcUrl;
    await node.stopRpc();
    await rejectsWithCode(rpc.getBestBlockHash(), "RPC_CONNECT");
    await node.startRpc();
    assert.equal(node.rpcUrl, url);
    assert.equal(await rpc.getBestBlockHash(), node.tipHash());
  });
});
