/**
 * A minimal key-and-coins helper for the embedded regtest node: it owns one P2WPKH key, remembers the
 * coinbases mined to it, and builds segwit transactions so tests get a mempool with witness data.
 * Built from bcoin primitives (KeyRing, MTX, Coin) instead of bcoin's wallet plugin, which would bring
 * its own database and HTTP server.
 */
import { TbgError } from "../../util/errors.ts";
import type { BcoinAddress, BcoinBlock, BcoinCoin, BcoinFullNode, BcoinKeyRing, BcoinModule, BcoinTX } from "./bcoin.ts";

/** Consensus: a coinbase output is spendable in a block at least this many blocks above it (BIP-less, since 0.1). */
const COINBASE_MATURITY = 100;
/** Value of each output the fan-out creates, satoshis; the spending tx pays its fee out of it. */
const FANOUT_OUTPUT_SAT = 100_000;
/** Fee rate for the helper's transactions, sat/vbyte (bcoin regtest min relay is 1 sat/vbyte). */
const FEE_RATE_SAT_PER_VB = 5;
/** Rounds of "mine COINBASE_MATURITY blocks" before giving up on funding. */
const MAX_FUNDING_ROUNDS = 10;

/** Thrown when the helper cannot build or broadcast its transactions. */
export class EmbeddedWalletError extends TbgError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("EMBEDDED_WALLET", message, options);
  }
}

interface OwnedCoinbase {
  txidInternal: string;
  height: number;
  coin: BcoinCoin;
}

/** Rough vsize of a P2WPKH-only transaction, vbytes. */
function p2wpkhVsize(inputs: number, outputs: number): number {
  return 11 + inputs * 68 + outputs * 31;
}

export class RegtestWallet {
  readonly #bcoin: BcoinModule;
  readonly #node: BcoinFullNode;
  readonly #key: BcoinKeyRing;
  /** Our unspent coinbases, oldest first. */
  #coinbases: OwnedCoinbase[] = [];

  constructor(bcoin: BcoinModule, node: BcoinFullNode) {
    this.#bcoin = bcoin;
    this.#node = node;
    this.#key = bcoin.KeyRing.generate(true);
    this.#key.witness = true; // P2WPKH
  }

  /** The wallet's P2WPKH address object. */
  get address(): BcoinAddress {
    return this.#key.getAddress();
  }

  /** Records the coinbase of a block we mined if it pays this wallet. */
  noteMinedBlock(block: BcoinBlock, height: number): void {
    const coinbase = block.txs[0];
    if (!coinbase) return;
    this.#coinbases.push({
      txidInternal: coinbase.hash("hex"),
      height,
      coin: this.#bcoin.Coin.fromTX(coinbase, 0, height),
    });
  }

  /**
   * Creates `count` independent transactions that each spend a confirmed P2WPKH output and pay to a
   * P2WPKH output, adds them to the mempool (relayed to peers) and returns their txids (display order).
   * Funding: mines COINBASE_MATURITY blocks to this wallet when it has no mature coinbase, then a fan-out
   * transaction confirmed in one more block (that block also confirms whatever else is in the mempool).
   * `mine(n)` must mine n blocks to {@link address} and call {@link noteMinedBlock}.
   */
  async createSegwitTransactions(count: number, mine: (n: number) => Promise<unknown>): Promise<string[]> {
    if (!Number.isInteger(count) || count < 0) throw new RangeError(`count must be a non-negative integer, got ${count}`);
    if (count === 0) return [];
    const fanFeeEstimate = (inputs: number) => p2wpkhVsize(inputs, count + 1) * FEE_RATE_SAT_PER_VB;
    let inputs: OwnedCoinbase[] = [];
    for (let round = 0; ; round++) {
      inputs = await this.#selectMature(count * FANOUT_OUTPUT_SAT, fanFeeEstimate);
      if (inputs.length > 0) break;
      if (round >= MAX_FUNDING_ROUNDS) throw new EmbeddedWalletError(`cannot fund ${count} transactions after mining ${round * COINBASE_MATURITY} blocks`);
      await mine(COINBASE_MATURITY);
    }

    const fan = new this.#bcoin.MTX();
    let total = 0;
    for (const input of inputs) {
      fan.addCoin(input.coin);
      total += input.coin.value;
    }
    for (let i = 0; i < count; i++) fan.addOutput(this.address, FANOUT_OUTPUT_SAT);
    const change = total - count * FANOUT_OUTPUT_SAT - fanFeeEstimate(inputs.length);
    if (change >= 1_000) fan.addOutput(this.address, change);
    fan.sign(this.#key);
    const fanTx = fan.toTX();
    await this.#addToMempool(fanTx);
    const spent = new Set(inputs);
    this.#coinbases = this.#coinbases.filter((c) => !spent.has(c));
    await mine(1); // confirm the fan-out so the new transactions are independent of each other

    const fanHeight = this.#node.chain.height;
    const txids: string[] = [];
    for (let i = 0; i < count; i++) {
      const tx = new this.#bcoin.MTX();
      tx.addCoin(this.#bcoin.Coin.fromTX(fanTx, i, fanHeight));
      // Slightly different fees so a template orders them by fee rate, not by accident.
      const fee = p2wpkhVsize(1, 1) * FEE_RATE_SAT_PER_VB + i * 7;
      tx.addOutput(this.address, FANOUT_OUTPUT_SAT - fee);
      tx.sign(this.#key);
      const final = tx.toTX();
      await this.#addToMempool(final);
      txids.push(final.txid());
    }
    // bcoin keeps serving a cached template for 10 s while only the mempool changes.
    this.#node.rpc.refreshBlock();
    return txids;
  }

  /** Mature, still unspent coinbases worth at least `amount` plus the fee; [] when there are not enough. */
  async #selectMature(amount: number, feeFor: (inputs: number) => number): Promise<OwnedCoinbase[]> {
    const spendHeight = this.#node.chain.height + 1;
    const live: OwnedCoinbase[] = [];
    for (const c of this.#coinbases) {
      // A reorg may have removed the block; drop coins the chain no longer has.
      if (await this.#node.chain.getCoin(c.txidInternal, 0)) live.push(c);
    }
    this.#coinbases = live;
    const chosen: OwnedCoinbase[] = [];
    let total = 0;
    for (const c of live) {
      if (spendHeight - c.height < COINBASE_MATURITY) break; // oldest first: the rest are younger
      chosen.push(c);
      total += c.coin.value;
      if (total >= amount + feeFor(chosen.length)) return chosen;
    }
    return [];
  }

  async #addToMempool(tx: BcoinTX): Promise<void> {
    let missing: unknown;
    try {
      missing = await this.#node.mempool.addTX(tx);
    } catch (err) {
      throw new EmbeddedWalletError(`mempool rejected ${tx.txid()}: ${(err as Error).message}`, { cause: err });
    }
    if (Array.isArray(missing) && missing.length > 0) throw new EmbeddedWalletError(`mempool has no parents for ${tx.txid()}`);
  }
}
