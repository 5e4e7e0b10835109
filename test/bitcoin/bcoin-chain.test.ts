// Consensus check: blocks assembled by src/core/bitcoin (BIP34 height, coinbase split, merkle branch,
// BIP141 witness commitment and coinbase witness) are accepted by bcoin's full block validation
// (an in-memory simnet chain: BIP34 from height 0, segwit via version bits). No network, no node process.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { Transaction } from "bitcoinjs-lib";
import { buildCoinbase, assembleCoinbase, coinbaseTxid, coinbaseTxWithWitness } from "../../src/core/bitcoin/coinbase.ts";
import { buildHeader } from "../../src/core/bitcoin/header.ts";
import { sha256, sha256d } from "../../src/core/bitcoin/hash.ts";
import { hashMeetsTarget, nbitsToTarget } from "../../src/core/bitcoin/difficulty.ts";
import { serializeBlock } from "../../src/core/bitcoin/block.ts";
import { merkleBranch, merkleRootFromBranch, witnessCommitment, witnessCommitmentScript } from "../../src/core/bitcoin/merkle.ts";
import { pushData } from "../../src/core/bitcoin/script-number.ts";

// Minimal shape of the untyped bcoin API used here.
interface ChainEntry {
  height: number;
  hash: string | Buffer; // bcoin 1.0: internal-order hex string
  time: number;
  bits: number;
}
interface BcoinChain {
  tip: ChainEntry;
  open(): Promise<void>;
  close(): Promise<void>;
  add(block: unknown): Promise<ChainEntry | null>;
  isActive(prev: ChainEntry, deployment: unknown): Promise<boolean>;
  network: { deployments: Record<string, unknown> };
}
interface Bcoin {
  Chain: new (options: { network: string; memory: boolean }) => BcoinChain;
  Block: { fromRaw(raw: Buffer): unknown };
}
const bcoin = createRequire(import.meta.url)("bcoin") as Bcoin;

// Anyone-can-spend P2WSH(OP_TRUE): lets the test spend a coinbase without keys.
const OP_TRUE_SCRIPT = Buffer.from([0x51]);
const P2WSH_TRUE = Buffer.concat([Buffer.from([0x00, 0x20]), sha256(OP_TRUE_SCRIPT)]);
const SUBSIDY = 50_0000_0000n;

interface TemplateTx {
  data: string;
  txidLE: Buffer;
  wtxidLE: Buffer;
}

function hashLE(h: string | Buffer): Buffer {
  return Buffer.isBuffer(h) ? h : Buffer.from(h, "hex");
}

/** Build a block the way the pool does: stratum pieces, miner-side root, PoW search, submit serialisation. */
function mineBlock(
  prev: ChainEntry,
  opts: { version: number; txs?: TemplateTx[]; fees?: bigint; signature?: string; withWitness?: boolean; heightPush?: Buffer },
): Buffer {
  const txs = opts.txs ?? [];
  const height = prev.height + 1;
  const segwit = txs.length > 0;
  const parts = buildCoinbase({
    height,
    signatureText: opts.signature ?? "/TheBitcoinGame/",
    extranonce1Size: 4,
    extranonce2Size: 8,
    outputs: [{ valueSats: SUBSIDY + (opts.fees ?? 0n), script: P2WSH_TRUE }],
    witnessCommitmentScript: segwit ? witnessCommitmentScript(witnessCommitment(txs.map((t) => t.wtxidLE))) : undefined,
  });
  let coinbase = assembleCoinbase(parts.coinb1, Buffer.from("f00dcafe", "hex"), Buffer.alloc(8, height & 0xff), parts.coinb2);
  if (opts.heightPush) {
    // Negative control: replace the BIP34 prefix (first scriptSig byte after the 42-byte input header).
    const own = coinbase[42] >= 0x51 && coinbase[42] <= 0x60 ? 1 : 1 + coinbase[42];
    const script = Buffer.concat([opts.heightPush, coinbase.subarray(42 + own, 42 + coinbase[41])]);
    coinbase = Buffer.concat([coinbase.subarray(0, 41), Buffer.from([script.length]), script, coinbase.subarray(42 + coinbase[41])]);
  }
  const root = merkleRootFromBranch(coinbaseTxid(coinbase), merkleBranch(txs.map((t) => t.txidLE)));
  const target = nbitsToTarget(prev.bits);
  const header = Buffer.alloc(80);
  for (let nonce = 0; nonce < 1_000_000; nonce++) {
    const h = buildHeader({ version: opts.version, prevhashLE: hashLE(prev.hash), merkleRootLE: root, ntime: prev.time + 600, nbits: prev.bits, nonce });
    if (hashMeetsTarget(sha256d(h), target)) {
      h.copy(header);
      break;
    }
  }
  const withWitness = opts.withWitness ?? segwit;
  return Buffer.from(serializeBlock(header, withWitness ? coinbaseTxWithWitness(coinbase) : coinbase, txs.map((t) => t.data)), "hex");
}

async function rejects(chain: BcoinChain, raw: Buffer, reason: RegExp): Promise<void> {
  await assert.rejects(chain.add(bcoin.Block.fromRaw(raw)), (err: Error & { reason?: string }) => {
    assert.match(err.reason ?? err.message, reason);
    return true;
  });
}

test("bcoin accepts our blocks: BIP34 OP_N and push heights, then segwit blocks with commitment and coinbase witness", async () => {
  const chain = new bcoin.Chain({ network: "simnet", memory: true });
  await chain.open();
  try {
    // ckpool's data-push form of a small height is refused by BIP34.
    await rejects(chain, mineBlock(chain.tip, { version: 0x20000002, heightPush: pushData(Buffer.from([1])) }), /bad-cb-height/);

    // Heights 1..16 use OP_1..OP_16, 17+ a minimal push; version bit 1 signals segwit.
    let block1: Buffer | undefined;
    const signatures = ["", "/TheBitcoinGame/", "x".repeat(200), "€".repeat(40)];
    while (chain.tip.height < 432) {
      const raw = mineBlock(chain.tip, { version: 0x20000002, signature: signatures[chain.tip.height % signatures.length] });
      if (chain.tip.height === 0) block1 = raw;
      const entry = await chain.add(bcoin.Block.fromRaw(raw));
      assert.ok(entry, `block ${chain.tip.height + 1} accepted`);
    }
    assert.equal(await chain.isActive(chain.tip, chain.network.deployments.segwit), true, "segwit active");

    // Spend block 1's coinbase (P2WSH OP_TRUE) with a witness, in a template-like transaction list.
    // A one-transaction block is header (80) ‖ count (1) ‖ coinbase.
    const coinbase1 = Transaction.fromBuffer((block1 as Buffer).subarray(81));
    const tx = new Transaction();
    tx.version = 2;
    tx.addInput(coinbase1.getHash(), 0);
    tx.addOutput(P2WSH_TRUE, SUBSIDY - 10_000n);
    tx.setWitness(0, [OP_TRUE_SCRIPT]);
    const spends: TemplateTx[] = [{ data: tx.toHex(), txidLE: Buffer.from(tx.getHash()), wtxidLE: Buffer.from(tx.getHash(true)) }];
    // A coinbase without the witness reserved value is refused when a commitment is present.
    await rejects(chain, mineBlock(chain.tip, { version: 0x20000000, txs: spends, fees: 10_000n, withWitness: false }), /bad-witness-nonce-size/);
    // A commitment built from txids instead of wtxids does not match.
    const wrong = spends.map((t) => ({ ...t, wtxidLE: t.txidLE }));
    await rejects(chain, mineBlock(chain.tip, { version: 0x20000000, txs: wrong, fees: 10_000n }), /bad-witness-merkle-match/);
    const entry = await chain.add(bcoin.Block.fromRaw(mineBlock(chain.tip, { version: 0x20000000, txs: spends, fees: 10_000n })));
    assert.equal(entry?.height, 433);
  } finally {
    await chain.close();
  }
});

