/**
 * Raw blocks and transactions for the bench node: the empty blocks it "finds" when the tip advances (so the
 * ZMQ `rawblock` body, `getblock` and `hashblock` agree: the hash is the header's sha256d), and
 * `decoderawtransaction` in Bitcoin Core's result shape (ckpool checks its first coinbase with it). Pure.
 */
import { Transaction, address as bjsAddress, networks, script as bjsScript } from "bitcoinjs-lib";
import { sha256d } from "../../core/bitcoin/hash.ts";
import { encodeBip34Height, pushData } from "../../core/bitcoin/script-number.ts";
import { encodeCompactSize } from "../../core/bitcoin/varint.ts";

/** An empty block (coinbase only) made by the bench node. */
export interface RawBlock {
  /** Display-order hash (= sha256d of the header, reversed). */
  hash: string;
  /** The serialized block: header, transaction count 1, the coinbase. */
  raw: Buffer;
  coinbaseTxid: string;
}

/** Fields of {@link emptyBlock}. */
export interface EmptyBlockParams {
  version: number;
  /** Display-order hex. */
  prevHash: string;
  time: number;
  /** Compact target, hex as in getblocktemplate (`17023a04`). */
  bits: string;
  height: number;
  nonce: number;
  /** Coinbase output value, satoshis (the subsidy: the block has no fees). */
  valueSats: number;
}

/** Builds a coinbase-only block paying to OP_TRUE. Its hash does not meet `bits` (nobody mines here). */
export function emptyBlock(p: EmptyBlockParams): RawBlock {
  const scriptSig = Buffer.concat([encodeBip34Height(p.height), pushData(Buffer.from("tbg-bench-node", "ascii"))]);
  const value = Buffer.alloc(8);
  value.writeBigUInt64LE(BigInt(p.valueSats));
  const coinbase = Buffer.concat([
    Buffer.from("01000000", "hex"), // version 1
    Buffer.from([1]), // one input
    Buffer.alloc(32), // null prevout
    Buffer.from("ffffffff", "hex"),
    encodeCompactSize(scriptSig.length),
    scriptSig,
    Buffer.from("ffffffff", "hex"), // sequence
    Buffer.from([1]), // one output
    value,
    Buffer.from([1, 0x51]), // OP_TRUE
    Buffer.alloc(4), // locktime
  ]);
  const txid = sha256d(coinbase);
  const header = Buffer.alloc(80);
  header.writeInt32LE(p.version, 0);
  Buffer.from(p.prevHash, "hex").reverse().copy(header, 4);
  txid.copy(header, 36); // one transaction: the merkle root is its txid
  header.writeUInt32LE(p.time >>> 0, 68);
  header.writeUInt32LE(parseInt(p.bits, 16) >>> 0, 72);
  header.writeUInt32LE(p.nonce >>> 0, 76);
  return {
    hash: Buffer.from(sha256d(header)).reverse().toString("hex"),
    raw: Buffer.concat([header, Buffer.from([1]), coinbase]),
    coinbaseTxid: Buffer.from(txid).reverse().toString("hex"),
  };
}

/** Thrown for hex that is not a transaction (Core: RPC_DESERIALIZATION_ERROR -22 "TX decode failed"). */
export class TxDecodeError extends Error {}

/** Core's scriptPubKey.type for the standard templates. */
function scriptType(s: Buffer): string {
  if (s.length === 25 && s[0] === 0x76 && s[1] === 0xa9 && s[2] === 20 && s[23] === 0x88 && s[24] === 0xac) return "pubkeyhash";
  if (s.length === 23 && s[0] === 0xa9 && s[1] === 20 && s[22] === 0x87) return "scripthash";
  if (s.length === 22 && s[0] === 0 && s[1] === 20) return "witness_v0_keyhash";
  if (s.length === 34 && s[0] === 0 && s[1] === 32) return "witness_v0_scripthash";
  if (s.length === 34 && s[0] === 0x51 && s[1] === 32) return "witness_v1_taproot";
  if (s.length >= 1 && s[0] === 0x6a) return "nulldata";
  return "nonstandard";
}

function asm(s: Uint8Array): string {
  try {
    return bjsScript.toASM(s);
  } catch {
    return "[error]";
  }
}

/** `decoderawtransaction HEX` for mainnet, in Bitcoin Core's shape (txid, hash, sizes, vin, vout). */
export function decodeRawTransaction(hex: unknown): Record<string, unknown> {
  if (typeof hex !== "string" || !/^([0-9a-fA-F]{2})+$/.test(hex)) throw new TxDecodeError("TX decode failed");
  let tx: Transaction;
  try {
    tx = Transaction.fromHex(hex);
  } catch {
    throw new TxDecodeError("TX decode failed");
  }
  const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");
  return {
    txid: tx.getId(),
    hash: Buffer.from(tx.getHash(true)).reverse().toString("hex"),
    version: tx.version,
    size: tx.byteLength(),
    vsize: tx.virtualSize(),
    weight: tx.weight(),
    locktime: tx.locktime,
    vin: tx.ins.map((i) => {
      const witness = i.witness.length ? { txinwitness: i.witness.map(toHex) } : {};
      if (tx.isCoinbase()) return { coinbase: toHex(i.script), ...witness, sequence: i.sequence };
      return { txid: Buffer.from(i.hash).reverse().toString("hex"), vout: i.index, scriptSig: { asm: asm(i.script), hex: toHex(i.script) }, ...witness, sequence: i.sequence };
    }),
    vout: tx.outs.map((o, n) => {
      const script = Buffer.from(o.script);
      let addr: string | undefined;
      try {
        addr = bjsAddress.fromOutputScript(script, networks.bitcoin);
      } catch {
        addr = undefined;
      }
      return { value: Number(o.value) / 1e8, n, scriptPubKey: { asm: asm(script), hex: script.toString("hex"), ...(addr ? { address: addr } : {}), type: scriptType(script) } };
    }),
  };
}
