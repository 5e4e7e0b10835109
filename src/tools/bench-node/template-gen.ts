/**
 * Deterministic mainnet-shaped getblocktemplate results for benchmarks (written to bench/fixtures by
 * scripts/gen-bench-fixtures.ts). The `bits` are a real mainnet-era value, so no share a benchmark can
 * produce is ever a block; the transactions are synthetic (./synthetic-tx.ts) with the commitment, txids
 * and fees consistent. Pure.
 */
import { sha256 } from "../../core/bitcoin/hash.ts";
import { nbitsToTarget } from "../../core/bitcoin/difficulty.ts";
import { witnessCommitment, witnessCommitmentScript } from "../../core/bitcoin/merkle.ts";
import { SeededBytes, syntheticTransaction, type GbtTransaction } from "./synthetic-tx.ts";

/** A Bitcoin Core 27-style getblocktemplate result. */
export interface GbtTemplate {
  capabilities: string[];
  version: number;
  rules: string[];
  vbavailable: Record<string, number>;
  vbrequired: number;
  previousblockhash: string;
  transactions: GbtTransaction[];
  coinbaseaux: Record<string, string>;
  coinbasevalue: number;
  longpollid: string;
  target: string;
  mintime: number;
  mutable: string[];
  noncerange: string;
  sigoplimit: number;
  sizelimit: number;
  weightlimit: number;
  curtime: number;
  bits: string;
  height: number;
  default_witness_commitment: string;
}

/** A fixture file: the template plus how it was made. */
export interface TemplateFixture {
  description: string;
  generator: { seed: string; txCount: number };
  template: GbtTemplate;
}

/** Mainnet-era compact target (difficulty ~1.26e14): no benchmark share can meet it. */
export const BENCH_BITS = "17023a04";
/** Height of the fixture template (subsidy 3.125 BTC until height 1,050,000). */
export const BENCH_HEIGHT = 900_000;
/** Fixture curtime (2025-06). */
export const BENCH_CURTIME = 1_749_000_000;

/** Block subsidy at `height` in satoshis (halving every 210,000 blocks). */
export function blockSubsidySats(height: number): number {
  const halvings = Math.floor(height / 210_000);
  return halvings >= 64 ? 0 : Math.floor(5_000_000_000 / 2 ** halvings);
}

/** A plausible mainnet block hash for `label`: 19 leading zero hex digits, the rest seeded. */
export function fakeBlockHash(label: string): string {
  return "0000000000000000000" + sha256(Buffer.from(`tbg-bench-block/${label}`)).toString("hex").slice(19);
}

/** Builds the fixture for `txCount` transactions. Same inputs, same bytes. */
export function generateTemplateFixture(txCount: number, seed = "tbg-bench-v1"): TemplateFixture {
  const rnd = new SeededBytes(`${seed}/${txCount}`);
  const transactions: GbtTransaction[] = [];
  for (let i = 0; i < txCount; i++) transactions.push(syntheticTransaction(rnd));
  const fees = transactions.reduce((sum, t) => sum + t.fee, 0);
  const commitment = witnessCommitment(transactions.map((t) => Buffer.from(t.hash, "hex").reverse()));
  const previousblockhash = fakeBlockHash(`${BENCH_HEIGHT - 1}`);
  const template: GbtTemplate = {
    capabilities: ["proposal"],
    version: 0x20000000,
    rules: ["csv", "!segwit", "taproot"],
    vbavailable: {},
    vbrequired: 0,
    previousblockhash,
    transactions,
    coinbaseaux: {},
    coinbasevalue: blockSubsidySats(BENCH_HEIGHT) + fees,
    longpollid: `${previousblockhash}${txCount}`,
    target: nbitsToTarget(parseInt(BENCH_BITS, 16)).toString(16).padStart(64, "0"),
    mintime: BENCH_CURTIME - 3000,
    mutable: ["time", "transactions", "prevblock"],
    noncerange: "00000000ffffffff",
    sigoplimit: 80_000,
    sizelimit: 4_000_000,
    weightlimit: 4_000_000,
    curtime: BENCH_CURTIME,
    bits: BENCH_BITS,
    height: BENCH_HEIGHT,
    default_witness_commitment: witnessCommitmentScript(commitment).toString("hex"),
  };
  return {
    description:
      `Synthetic, mainnet-shaped getblocktemplate result with ${txCount} transactions (seed '${seed}'). ` +
      "Transactions are correctly serialised (BIP144) with consistent txid/hash/weight/fee and witness commitment, " +
      "but their inputs, keys and signatures are random bytes: not valid on any chain. bits are mainnet-era, so no " +
      "share is ever a block. Regenerate with: npx tsx scripts/gen-bench-fixtures.ts",
    generator: { seed, txCount },
    template,
  };
}
