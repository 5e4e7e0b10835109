/**
 * The solo coinbase transaction, split for Stratum into coinb1 / coinb2 around the extranonces
 *.
 *
 * Serialised without witness (the txid, hence the merkle root, excludes it):
 *   version u32 | 01 | 32×00 | ffffffff | scriptSig len | scriptSig | ffffffff | outputs | locktime 0
 * scriptSig = BIP34 height (`CScript() << height`) | push(signature UTF-8) | push(en1 ‖ en2)
 * coinb1 ends right before extranonce1; coinb2 starts right after extranonce2.
 *
 * Why the extranonces are a data push (one opcode byte = en1Size + en2Size) rather than raw bytes
 * as ckpool does: the whole scriptSig stays a well-formed script, so `decoderawtransaction` and
 * block explorers show the height and the signature as clean pushes and nothing after the
 * signature is misparsed. It costs one byte of the 100-byte budget.
 */
import { sha256d } from "./hash.ts";
import { encodeBip34Height, pushData, pushOverhead } from "./script-number.ts";
import { encodeCompactSize } from "./varint.ts";
import { BitcoinValueError } from "./errors.ts";
import { WITNESS_COMMITMENT_HEADER, WITNESS_RESERVED_VALUE } from "./merkle.ts";

/** Consensus bounds of the coinbase scriptSig (Bitcoin Core CheckTransaction, `bad-cb-length`). */
export const COINBASE_SCRIPTSIG_MIN_BYTES = 2;
export const COINBASE_SCRIPTSIG_MAX_BYTES = 100;
/** 21 million BTC in satoshis (Bitcoin Core MAX_MONEY). */
export const MAX_MONEY_SATS = 2_100_000_000_000_000n;

/** One transaction output. */
export interface TxOutput {
  /** Amount in satoshis. */
  valueSats: bigint;
  /** scriptPubKey bytes. */
  script: Buffer;
}

/** Input of {@link buildCoinbase}. */
export interface CoinbaseParams {
  /** Height of the block being mined (GBT `height`), encoded per BIP34. */
  height: number;
  /** Coinbase signature text (UTF-8). Truncated, with a warning, when it does not fit; "" omits it. */
  signatureText: string;
  /** Size in bytes of the per-connection extranonce1. */
  extranonce1Size: number;
  /** Size in bytes of the miner-rolled extranonce2. */
  extranonce2Size: number;
  /** Outputs in order (payout first, then donation). At least one. */
  outputs: TxOutput[];
  /** GBT `default_witness_commitment` script (`6a24aa21a9ed…`); appended as a 0-value last output. */
  witnessCommitmentScript?: Buffer;
  /** Transaction version; default 1 (as ckpool). 2 is also fine: coinbases have no relative locktime. */
  txVersion?: number;
}

/** Result of {@link buildCoinbase}. */
export interface CoinbaseParts {
  /** Bytes before extranonce1 (version … scriptSig up to and including the extranonce push opcode). */
  coinb1: Buffer;
  /** Bytes after extranonce2 (rest of scriptSig is empty: sequence, outputs, locktime). */
  coinb2: Buffer;
  /** The signature text actually embedded (possibly truncated; "" if none fitted). */
  signatureUsed: string;
  /** Total scriptSig length in bytes, extranonces included. */
  scriptSigBytes: number;
  /** Human-readable warnings (e.g. truncation); the caller decides how to log them. */
  warnings: string[];
}

/**
 * Build the coinb1/coinb2 split of a solo coinbase. Throws `BitcoinValueError`
 * (`COINBASE_INVALID`) when the height and extranonces alone exceed 100 bytes or an output is invalid.
 */
export function buildCoinbase(params: CoinbaseParams): CoinbaseParts {
  const { extranonce1Size, extranonce2Size } = params;
  for (const [name, n] of [["extranonce1Size", extranonce1Size], ["extranonce2Size", extranonce2Size]] as const) {
    if (!Number.isInteger(n) || n < 0) throw new BitcoinValueError("COINBASE_INVALID", `${name} must be an integer >= 0`);
  }
  const warnings: string[] = [];
  const heightPush = encodeBip34Height(params.height);
  const enSize = extranonce1Size + extranonce2Size;
  const enPushOpcodes = pushData(Buffer.alloc(enSize)).subarray(0, pushOverhead(enSize));
  const fixedBytes = heightPush.length + enPushOpcodes.length + enSize;
  if (fixedBytes > COINBASE_SCRIPTSIG_MAX_BYTES) {
    throw new BitcoinValueError(
      "COINBASE_INVALID",
      `height push and extranonces take ${fixedBytes} bytes, over the ${COINBASE_SCRIPTSIG_MAX_BYTES}-byte scriptSig limit`,
    );
  }

  const sigBytes = Buffer.from(params.signatureText, "utf8");
  const sigUsed = fitSignature(sigBytes, COINBASE_SCRIPTSIG_MAX_BYTES - fixedBytes);
  if (sigUsed.length < sigBytes.length) {
    warnings.push(
      `coinbase signature truncated from ${sigBytes.length} to ${sigUsed.length} bytes ` +
        `to keep the scriptSig within ${COINBASE_SCRIPTSIG_MAX_BYTES} bytes`,
    );
  }
  const sigPush = sigUsed.length > 0 ? pushData(sigUsed) : Buffer.alloc(0);
  const scriptSigBytes = fixedBytes + sigPush.length;
  // Always >= 2: the height push is >= 1 byte and the extranonce push opcode is 1 byte.

  const version = Buffer.alloc(4);
  version.writeUInt32LE((params.txVersion ?? 1) >>> 0);
  const coinb1 = Buffer.concat([
    version,
    Buffer.from([0x01]), // one input
    Buffer.alloc(32), // null prevout hash
    Buffer.from("ffffffff", "hex"), // prevout index
    encodeCompactSize(scriptSigBytes),
    heightPush,
    sigPush,
    enPushOpcodes,
  ]);

  const outputs = [...params.outputs];
  if (params.witnessCommitmentScript) {
    const s = params.witnessCommitmentScript;
    if (s.length < 38 || !s.subarray(0, 6).equals(WITNESS_COMMITMENT_HEADER)) {
      throw new BitcoinValueError("COINBASE_INVALID", "witness commitment script must start with 6a24aa21a9ed");
    }
    outputs.push({ valueSats: 0n, script: s });
  }
  if (outputs.length === 0) throw new BitcoinValueError("COINBASE_INVALID", "coinbase needs at least one output");
  const coinb2 = Buffer.concat([
    Buffer.from("ffffffff", "hex"), // sequence
    encodeCompactSize(outputs.length),
    ...outputs.map(serializeOutput),
    Buffer.alloc(4), // locktime 0
  ]);

  return { coinb1, coinb2, signatureUsed: sigUsed.toString("utf8"), scriptSigBytes, warnings };
}

/** Longest prefix of `sig` whose minimal push fits in `budget` bytes, cut on a UTF-8 character boundary. */
function fitSignature(sig: Buffer, budget: number): Buffer {
  if (sig.length === 0 || budget < 2) return Buffer.alloc(0);
  let max = budget - 1;
  if (max > 75) max = Math.max(75, budget - 2); // 76+ bytes need OP_PUSHDATA1 (2 opcode bytes)
  if (sig.length <= max) return sig;
  let cut = max;
  while (cut > 0 && (sig[cut] & 0xc0) === 0x80) cut--; // don't split a multi-byte character
  return sig.subarray(0, cut);
}

function serializeOutput(out: TxOutput): Buffer {
  if (out.valueSats < 0n || out.valueSats > MAX_MONEY_SATS) {
    throw new BitcoinValueError("COINBASE_INVALID", `output value out of range: ${out.valueSats}`);
  }
  const value = Buffer.alloc(8);
  value.writeBigUInt64LE(out.valueSats);
  return Buffer.concat([value, encodeCompactSize(out.script.length), out.script]);
}

/** The full non-witness coinbase: coinb1 ‖ extranonce1 ‖ extranonce2 ‖ coinb2. */
export function assembleCoinbase(coinb1: Buffer, extranonce1: Buffer, extranonce2: Buffer, coinb2: Buffer): Buffer {
  return Buffer.concat([coinb1, extranonce1, extranonce2, coinb2]);
}

/** Coinbase txid in internal byte order (sha256d of the non-witness serialisation). */
export function coinbaseTxid(coinbaseNoWitness: Buffer): Buffer {
  return sha256d(coinbaseNoWitness);
}

/**
 * Re-serialise a non-witness coinbase with the segwit marker/flag (`00 01`) and its witness: one
 * stack item, the 32-byte zero witness reserved value (BIP141 "Commitment structure"). Used in
 * `submitblock` only when the block carries a witness commitment; the txid is unchanged.
 */
export function coinbaseTxWithWitness(coinbaseNoWitness: Buffer): Buffer {
  const tx = coinbaseNoWitness;
  if (tx.length < 10 || tx[4] !== 0x01) {
    throw new BitcoinValueError("COINBASE_INVALID", "expected a non-witness transaction with exactly one input");
  }
  return Buffer.concat([
    tx.subarray(0, 4), // version
    Buffer.from([0x00, 0x01]), // marker, flag
    tx.subarray(4, tx.length - 4), // inputs and outputs
    Buffer.from([0x01, WITNESS_RESERVED_VALUE.length]), // 1 witness item of 32 bytes
    WITNESS_RESERVED_VALUE,
    tx.subarray(tx.length - 4), // locktime
  ]);
}

/** Input of {@link payoutOutputs}. */
export interface PayoutParams {
  /** GBT `coinbasevalue` (subsidy + fees), satoshis. */
  coinbaseValueSats: bigint;
  /** scriptPubKey of the miner's own address. */
  minerScript: Buffer;
  /** Pool fee / donation in percent (0..100, up to 6 decimals); default 0. */
  donationPercent?: number;
  /** scriptPubKey receiving the donation; required when the donation is non-zero. */
  donationScript?: Buffer;
}

/**
 * Split the coinbase value: donation = floor(value × pct / 100) (as ckpool), the miner gets the
 * rest. The donation output is omitted when it is 0. The percentage is scaled to an integer in
 * millionths of a percent so the split is exact bigint arithmetic.
 */
export function payoutOutputs(params: PayoutParams): TxOutput[] {
  const value = params.coinbaseValueSats;
  const pct = params.donationPercent ?? 0;
  if (value < 0n || value > MAX_MONEY_SATS) throw new BitcoinValueError("COINBASE_INVALID", `coinbase value out of range: ${value}`);
  if (!Number.isFinite(pct) || pct < 0 || pct > 100) {
    throw new BitcoinValueError("COINBASE_INVALID", `donation percent must be within 0..100, got ${pct}`);
  }
  const pctMicro = BigInt(Math.round(pct * 1_000_000));
  const donation = (value * pctMicro) / 100_000_000n;
  if (donation === 0n) return [{ valueSats: value, script: params.minerScript }];
  if (!params.donationScript) throw new BitcoinValueError("COINBASE_INVALID", "donation percent set without a donation script");
  return [
    { valueSats: value - donation, script: params.minerScript },
    { valueSats: donation, script: params.donationScript },
  ];
}
