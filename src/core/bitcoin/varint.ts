/** Bitcoin's CompactSize ("varint") length prefix, as serialised in transactions and blocks. */

/** Encode `n` as a CompactSize: 1 byte below 0xfd, then `fd`+u16, `fe`+u32, `ff`+u64 (little-endian). */
export function encodeCompactSize(n: number | bigint): Buffer {
  const v = BigInt(n);
  if (v < 0n || v > 0xffffffffffffffffn) throw new RangeError(`compact size out of range: ${n}`);
  if (v < 0xfdn) return Buffer.from([Number(v)]);
  if (v <= 0xffffn) {
    const b = Buffer.from([0xfd, 0, 0]);
    b.writeUInt16LE(Number(v), 1);
    return b;
  }
  if (v <= 0xffffffffn) {
    const b = Buffer.from([0xfe, 0, 0, 0, 0]);
    b.writeUInt32LE(Number(v), 1);
    return b;
  }
  const b = Buffer.alloc(9);
  b[0] = 0xff;
  b.writeBigUInt64LE(v, 1);
  return b;
}

/** Decode a CompactSize at `offset`: the value and the number of bytes it took. */
export function decodeCompactSize(buf: Buffer, offset = 0): { value: number; size: number } {
  const first = buf[offset];
  if (first === undefined) throw new RangeError("compact size past end of buffer");
  if (first < 0xfd) return { value: first, size: 1 };
  if (first === 0xfd) return { value: buf.readUInt16LE(offset + 1), size: 3 };
  if (first === 0xfe) return { value: buf.readUInt32LE(offset + 1), size: 5 };
  const v = buf.readBigUInt64LE(offset + 1);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError("compact size too large");
  return { value: Number(v), size: 9 };
}
