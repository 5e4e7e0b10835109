/**
 * Bitcoin Core's ZMQ notification format (Bitcoin Core doc/zmq.md), pure encode/decode.
 *
 * Every message has three frames: the topic (`hashblock`), the body (for hashblock: the 32-byte block
 * hash, already "in reversed byte order", i.e. the RPC/explorer display order — do not reverse it again),
 * and a 4-byte little-endian sequence number counted per topic, wrapping at 2^32.
 */

/** Topic of the new-tip notification. */
export const HASHBLOCK_TOPIC = "hashblock";

/** Topic of the new-block notification carrying the whole serialized block. */
export const RAWBLOCK_TOPIC = "rawblock";

/** Encodes a `rawblock` message: [topic, the serialized block (wire format), uint32 LE sequence]. */
export function encodeRawblock(block: Buffer, sequence: number): [Buffer, Buffer, Buffer] {
  if (block.length < 81) throw new RangeError(`rawblock: a block is at least 81 bytes, got ${block.length}`);
  const seq = Buffer.alloc(4);
  seq.writeUInt32LE(sequence >>> 0, 0);
  return [Buffer.from(RAWBLOCK_TOPIC, "ascii"), block, seq];
}

/** A decoded `hashblock` notification. */
export interface HashblockMessage {
  /** New tip, display byte order hex (equals `getbestblockhash`). */
  hashHex: string;
  /** Per-topic sequence number (uint32). */
  sequence: number;
}

/** Encodes a `hashblock` message: [topic, 32-byte hash in display order, uint32 LE sequence]. */
export function encodeHashblock(hashHex: string, sequence: number): [Buffer, Buffer, Buffer] {
  if (!/^[0-9a-fA-F]{64}$/.test(hashHex)) throw new RangeError(`hashblock: expected 64 hex chars, got '${hashHex}'`);
  const seq = Buffer.alloc(4);
  seq.writeUInt32LE(sequence >>> 0, 0);
  return [Buffer.from(HASHBLOCK_TOPIC, "ascii"), Buffer.from(hashHex, "hex"), seq];
}

/**
 * Decodes a `hashblock` message; returns undefined when the frames are not one
 * (other topic, wrong frame count or sizes), so a subscriber can count and skip junk.
 */
export function decodeHashblock(frames: readonly Buffer[]): HashblockMessage | undefined {
  if (frames.length !== 3) return undefined;
  const [topic, body, seq] = frames as [Buffer, Buffer, Buffer];
  if (topic.toString("ascii") !== HASHBLOCK_TOPIC || body.length !== 32 || seq.length !== 4) return undefined;
  return { hashHex: body.toString("hex"), sequence: seq.readUInt32LE(0) };
}
