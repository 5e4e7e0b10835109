/**
 * Synthetic but mainnet-shaped transactions for benchmark templates. Pure and deterministic (seeded).
 *
 * Each transaction is a correctly serialised Bitcoin transaction (BIP144 witness serialisation where it
 * has witnesses) with the shapes that dominate mainnet blocks: P2WPKH spends (1-in and 2-in), P2TR key-path
 * spends and legacy P2PKH spends, paying to P2WPKH/P2TR/P2PKH/P2SH outputs. Prevouts, signatures and keys
 * are random bytes, so nothing here would pass script validation; a pool never validates scripts, it
 * only needs `data`, `txid`, `hash`, `fee` and `weight` to be consistent, which they are.
 */
import { sha256, sha256d } from "../../core/bitcoin/hash.ts";
import { encodeCompactSize } from "../../core/bitcoin/varint.ts";

/** A deterministic byte stream: SHA-256 in counter mode over a seed. */
export class SeededBytes {
  private counter = 0;
  private pool = Buffer.alloc(0);
  constructor(private readonly seed: string) {}

  /** `n` pseudo-random bytes. */
  bytes(n: number): Buffer {
    while (this.pool.length < n) {
      const block = sha256(Buffer.from(`${this.seed}/${this.counter++}`));
      this.pool = Buffer.concat([this.pool, block]);
    }
    const out = this.pool.subarray(0, n);
    this.pool = this.pool.subarray(n);
    return Buffer.from(out);
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return this.bytes(4).readUInt32LE(0) % n;
  }
}

/** One GBT `transactions[]` entry (Bitcoin Core getblocktemplate fields). */
export interface GbtTransaction {
  /** Serialised transaction, with witness when it has one. */
  data: string;
  /** Display-order hex of sha256d(non-witness serialisation). */
  txid: string;
  /** Display-order hex of sha256d(full serialisation) (= txid without witness). */
  hash: string;
  /** 1-based indexes of template transactions this one spends (always empty here). */
  depends: number[];
  /** Satoshis. */
  fee: number;
  /** Sigop cost (BIP141). */
  sigops: number;
  /** BIP141 weight units. */
  weight: number;
}

type InputKind = "p2wpkh" | "p2tr" | "p2pkh";
type OutputKind = "p2wpkh" | "p2tr" | "p2pkh" | "p2sh";

interface Shape {
  inputs: InputKind[];
  outputs: OutputKind[];
}

/** Mainnet-like mix: [cumulative weight out of 100, shape]. */
const SHAPES: ReadonlyArray<[number, Shape]> = [
  [55, { inputs: ["p2wpkh"], outputs: ["p2wpkh", "p2wpkh"] }],
  [65, { inputs: ["p2wpkh", "p2wpkh"], outputs: ["p2wpkh", "p2sh"] }],
  [82, { inputs: ["p2tr"], outputs: ["p2tr", "p2tr"] }],
  [92, { inputs: ["p2pkh"], outputs: ["p2pkh", "p2wpkh"] }],
  [100, { inputs: ["p2wpkh"], outputs: ["p2tr", "p2wpkh", "p2pkh"] }],
];

function outputScript(kind: OutputKind, rnd: SeededBytes): Buffer {
  switch (kind) {
    case "p2wpkh":
      return Buffer.concat([Buffer.from([0x00, 0x14]), rnd.bytes(20)]);
    case "p2tr":
      return Buffer.concat([Buffer.from([0x51, 0x20]), rnd.bytes(32)]);
    case "p2pkh":
      return Buffer.concat([Buffer.from([0x76, 0xa9, 0x14]), rnd.bytes(20), Buffer.from([0x88, 0xac])]);
    case "p2sh":
      return Buffer.concat([Buffer.from([0xa9, 0x14]), rnd.bytes(20), Buffer.from([0x87])]);
  }
}

/** A DER-shaped ECDSA signature with SIGHASH_ALL (71 bytes). */
function derSignature(rnd: SeededBytes): Buffer {
  const r = rnd.bytes(32);
  const s = rnd.bytes(32);
  r[0] &= 0x7f;
  s[0] &= 0x7f;
  return Buffer.concat([Buffer.from([0x30, 0x44, 0x02, 0x20]), r, Buffer.from([0x02, 0x20]), s, Buffer.from([0x01])]);
}

function compressedPubkey(rnd: SeededBytes): Buffer {
  return Buffer.concat([Buffer.from([0x02 + rnd.int(2)]), rnd.bytes(32)]);
}

const push = (b: Buffer) => Buffer.concat([Buffer.from([b.length]), b]);
const varBytes = (b: Buffer) => Buffer.concat([encodeCompactSize(b.length), b]);
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};
const u64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};

/** Display-order hex of a hash. */
const display = (h: Buffer) => Buffer.from(h).reverse().toString("hex");

/** Builds one synthetic transaction (shape and fee rate, 2–49 sat/vB, drawn from `rnd`). */
export function syntheticTransaction(rnd: SeededBytes): GbtTransaction {
  const pick = rnd.int(100);
  const shape = SHAPES.find(([upTo]) => pick < upTo)![1];
  const feeRate = 2 + rnd.int(48); // sat/vB, a typical mainnet spread

  const ins: Buffer[] = [];
  const witnesses: Buffer[][] = [];
  let sigops = 0;
  for (const kind of shape.inputs) {
    const prevout = Buffer.concat([rnd.bytes(32), u32(rnd.int(4))]);
    const scriptSig = kind === "p2pkh" ? Buffer.concat([push(derSignature(rnd)), push(compressedPubkey(rnd))]) : Buffer.alloc(0);
    ins.push(Buffer.concat([prevout, varBytes(scriptSig), u32(0xfffffffd)]));
    witnesses.push(kind === "p2wpkh" ? [derSignature(rnd), compressedPubkey(rnd)] : kind === "p2tr" ? [rnd.bytes(64)] : []);
    // BIP141 sigop cost: a P2WPKH spend counts 1; legacy sigops (P2PKH scripts) count 4 each.
    if (kind === "p2wpkh") sigops += 1;
  }
  const outs: Buffer[] = [];
  const values: number[] = [];
  for (const kind of shape.outputs) {
    const value = 5_000 + rnd.int(50_000_000);
    values.push(value);
    outs.push(Buffer.concat([u64(value), varBytes(outputScript(kind, rnd))]));
    if (kind === "p2pkh") sigops += 4;
  }

  const version = u32(2);
  const locktime = u32(0);
  const body = Buffer.concat([encodeCompactSize(ins.length), ...ins, encodeCompactSize(outs.length), ...outs]);
  const stripped = Buffer.concat([version, body, locktime]);
  const hasWitness = witnesses.some((w) => w.length > 0);
  const witnessBytes = Buffer.concat(witnesses.map((items) => Buffer.concat([encodeCompactSize(items.length), ...items.map(varBytes)])));
  // BIP144: version ‖ marker 0x00 ‖ flag 0x01 ‖ inputs ‖ outputs ‖ witnesses ‖ locktime.
  const full = hasWitness ? Buffer.concat([version, Buffer.from([0x00, 0x01]), body, witnessBytes, locktime]) : stripped;
  const weight = stripped.length * 3 + full.length;
  const vsize = Math.ceil(weight / 4);
  return {
    data: full.toString("hex"),
    txid: display(sha256d(stripped)),
    hash: display(sha256d(full)),
    depends: [],
    fee: vsize * feeRate,
    sigops,
    weight,
  };
}
