/**
 * Script number encodings for the coinbase scriptSig.
 *
 * BIP34 requires the coinbase scriptSig to *begin with* exactly the bytes of Bitcoin Core's
 * `CScript() << nHeight` (validation.cpp ContextualCheckBlock compares a prefix). `CScript::operator<<(int64)`
 * emits OP_0 for 0, OP_1..OP_16 (0x51..0x60) for 1..16, and otherwise a minimal push of the
 * CScriptNum serialisation: little-endian magnitude, plus a 0x00 byte when the top bit of the
 * last byte is set (that bit is the sign). ckpool always uses a data push, which Core rejects for
 * heights 1..16 (e.g. a fresh regtest chain); we follow Core.
 */
import { BitcoinValueError } from "./errors.ts";

const OP_0 = 0x00;
const OP_1 = 0x51;
const OP_PUSHDATA1 = 0x4c;
const OP_PUSHDATA2 = 0x4d;

/** CScriptNum serialisation (minimal, little-endian, sign bit in the last byte). 0 → empty. */
export function scriptNumBytes(value: number): Buffer {
  if (!Number.isSafeInteger(value)) throw new RangeError(`not a safe integer: ${value}`);
  if (value === 0) return Buffer.alloc(0);
  const negative = value < 0;
  let abs = Math.abs(value);
  const out: number[] = [];
  while (abs > 0) {
    out.push(abs % 256);
    abs = Math.floor(abs / 256);
  }
  if (out[out.length - 1] & 0x80) out.push(negative ? 0x80 : 0x00);
  else if (negative) out[out.length - 1] |= 0x80;
  return Buffer.from(out);
}

/**
 * Minimal data push of `data` (BIP62 minimal push rules for data that is not a small number):
 * a length opcode for ≤ 75 bytes, OP_PUSHDATA1 for ≤ 255, OP_PUSHDATA2 up to 65535.
 */
export function pushData(data: Buffer): Buffer {
  const n = data.length;
  if (n <= 75) return Buffer.concat([Buffer.from([n]), data]);
  if (n <= 0xff) return Buffer.concat([Buffer.from([OP_PUSHDATA1, n]), data]);
  if (n <= 0xffff) {
    const head = Buffer.from([OP_PUSHDATA2, 0, 0]);
    head.writeUInt16LE(n, 1);
    return Buffer.concat([head, data]);
  }
  throw new RangeError("push too large");
}

/** Length of the push opcode(s) `pushData` emits for `n` bytes of data. */
export function pushOverhead(n: number): number {
  return n <= 75 ? 1 : n <= 0xff ? 2 : 3;
}

/**
 * The BIP34 height prefix of the coinbase scriptSig, byte-identical to `CScript() << height`:
 * 0 → `00`, 1..16 → `51`..`60`, 17 → `0111`, 128 → `028000`, 32768 → `03008000`,
 * 8388608 → `0400008000`. Throws `BitcoinValueError` (`HEIGHT_INVALID`) outside 0..2^31-1.
 */
export function encodeBip34Height(height: number): Buffer {
  if (!Number.isInteger(height) || height < 0 || height > 0x7fffffff) {
    throw new BitcoinValueError("HEIGHT_INVALID", `block height out of range: ${height}`);
  }
  if (height === 0) return Buffer.from([OP_0]);
  if (height <= 16) return Buffer.from([OP_1 + height - 1]);
  return pushData(scriptNumBytes(height));
}
