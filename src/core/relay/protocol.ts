/**
 * The relay wire protocol (docs/relay-protocol.md): how a primary pushes templates to regional relays
 * and how a relay submits a found block to the primary. Pure codec, no I/O.
 *
 * A frame is a 20-byte header and a payload:
 *
 *   offset size field
 *   0      1    version      (PROTOCOL_VERSION; a frame of another version is refused)
 *   1      1    type         (FrameType)
 *   2      1    flags        (bit 0: payload is raw-deflate compressed)
 *   3      1    reserved     (0)
 *   4      4    length       payload bytes on the wire, big-endian (≤ maxFrameBytes)
 *   8      4    seq          sender's frame counter, big-endian (1, 2, …) — a gap means lost frames
 *   12     8    sendTimeMs   sender's wall clock when the frame was encoded, IEEE-754 double, big-endian
 *   20     …    payload      UTF-8 JSON object (after inflating when flag bit 0 is set)
 *
 * The decoder is incremental (TCP delivers any split) and refuses, with a {@link RelayProtocolError}
 * naming the problem, a wrong version, an unknown type, a length over the limit (before buffering the
 * payload), a payload that inflates beyond the limit, a compressed frame where compression is not
 * allowed (before authentication), and a payload that is not a JSON object.
 */
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { TbgError } from "../../util/errors.ts";

export const PROTOCOL_VERSION = 1;
export const HEADER_BYTES = 20;
/** Default limit on a frame's payload, compressed or inflated (a full 4 MWU template is ~2.5 MB of JSON hex). */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** Limit on a frame before the peer has authenticated (a Hello is a few hundred bytes). */
export const PRE_AUTH_MAX_FRAME_BYTES = 4 * 1024;
/** Payloads at least this big are compressed. */
export const COMPRESS_MIN_BYTES = 512;
const FLAG_DEFLATE = 0x01;

export enum FrameType {
  /** relay → primary, first frame: `{token, region, instanceId}`. */
  Hello = 1,
  /** primary → relay: authenticated. `{region, instanceId, port: "push" | "control"}`. */
  Welcome = 2,
  /** primary → relay, then close: `{code, message}`. */
  Refuse = 3,
  /** primary → relay on the push port: `{templateSeq, template}` (the node's getblocktemplate result). */
  Template = 4,
  /** either way: `{id}`. */
  Ping = 5,
  /** answer to Ping: `{id, pingSendTimeMs}`. */
  Pong = 6,
  /**
   * relay → primary on the control port: `{id, hashHex, height, blockHex, region}`; from a Stratum worker
   * process, on a slim template: `{id, hashHex, height, templateId, headerHex, coinbaseHex, region}` instead of `blockHex`.
   */
  BlockSubmit = 7,
  /** primary → relay: `{id, hashHex, outcome, results}`. */
  BlockResult = 8,
  /** primary → Stratum worker process on the push port: `{templateSeq, template}`, a slim template (src/core/work/slim-template.ts). */
  SlimTemplate = 9,
}

const TYPES = new Set<number>(Object.values(FrameType).filter((v): v is number => typeof v === "number"));

export interface Frame {
  type: FrameType;
  seq: number;
  sendTimeMs: number;
  /** Whether the payload travelled compressed. */
  compressed: boolean;
  /** Payload bytes on the wire. */
  wireBytes: number;
  body: Record<string, unknown>;
}

/** A peer sent something that is not this protocol. `code` says what. */
export class RelayProtocolError extends TbgError {}

/**
 * Encodes one frame. Bodies of {@link COMPRESS_MIN_BYTES} or more are compressed unless
 * `compress: false` (a Hello must travel uncompressed: the primary refuses compressed frames before auth).
 */
export function encodeFrame(type: FrameType, seq: number, body: Record<string, unknown>, sendTimeMs: number = Date.now(), opts: { compress?: boolean } = {}): Buffer {
  const json = Buffer.from(JSON.stringify(body), "utf8");
  const compress = opts.compress !== false && json.length >= COMPRESS_MIN_BYTES;
  const payload = compress ? deflateRawSync(json) : json;
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt8(PROTOCOL_VERSION, 0);
  header.writeUInt8(type, 1);
  header.writeUInt8(compress ? FLAG_DEFLATE : 0, 2);
  header.writeUInt32BE(payload.length, 4);
  header.writeUInt32BE(seq >>> 0, 8);
  header.writeDoubleBE(sendTimeMs, 12);
  return Buffer.concat([header, payload]);
}

/** Incremental decoder for one connection. After an error the connection must be closed. */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failed = false;
  private maxFrameBytes: number;
  private allowCompressed: boolean;

  /**
   * `allowCompressed: false` refuses a compressed frame from its header, before buffering or inflating
   * anything (the primary's setting until a peer authenticates, with a small `maxFrameBytes`).
   */
  constructor(maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES, opts: { allowCompressed?: boolean } = {}) {
    this.maxFrameBytes = maxFrameBytes;
    this.allowCompressed = opts.allowCompressed !== false;
  }

  /** Changes the limits for the frames not yet decoded (the primary lifts them once a peer authenticates). */
  setLimits(maxFrameBytes: number, opts: { allowCompressed?: boolean } = {}): void {
    this.maxFrameBytes = maxFrameBytes;
    this.allowCompressed = opts.allowCompressed !== false;
  }

  /** Bytes received but not yet a whole frame. */
  get pendingBytes(): number {
    return this.buffered;
  }

  /** Feeds bytes; returns the whole frames they complete. Throws RelayProtocolError on bad input. */
  push(data: Buffer): Frame[] {
    if (this.failed) throw new RelayProtocolError("RELAY_PROTOCOL_CLOSED", "decoder already failed; close the connection");
    this.chunks.push(data);
    this.buffered += data.length;
    const out: Frame[] = [];
    try {
      for (;;) {
        if (this.buffered < HEADER_BYTES) break;
        const head = this.peek(HEADER_BYTES);
        const length = checkHeader(head, this.maxFrameBytes, this.allowCompressed);
        if (this.buffered < HEADER_BYTES + length) break;
        const whole = this.take(HEADER_BYTES + length);
        out.push(decodePayload(whole.subarray(0, HEADER_BYTES), whole.subarray(HEADER_BYTES), this.maxFrameBytes));
      }
    } catch (err) {
      this.failed = true;
      this.chunks = [];
      this.buffered = 0;
      throw err;
    }
    return out;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!.subarray(0, n);
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return all.subarray(0, n);
  }
}

/** Validates a header; returns the payload length. */
function checkHeader(head: Buffer, maxFrameBytes: number, allowCompressed: boolean): number {
  const version = head.readUInt8(0);
  if (version !== PROTOCOL_VERSION) throw new RelayProtocolError("RELAY_VERSION", `relay protocol version ${version} is not supported (this side speaks ${PROTOCOL_VERSION}); upgrade the older side`);
  const type = head.readUInt8(1);
  if (!TYPES.has(type)) throw new RelayProtocolError("RELAY_FRAME_TYPE", `unknown relay frame type ${type}`);
  const length = head.readUInt32BE(4);
  if (length > maxFrameBytes) throw new RelayProtocolError("RELAY_FRAME_TOO_LARGE", `relay frame of ${length} bytes exceeds the ${maxFrameBytes}-byte limit`);
  if (!allowCompressed && (head.readUInt8(2) & FLAG_DEFLATE) !== 0) throw new RelayProtocolError("RELAY_COMPRESSED_BEFORE_AUTH", "compressed relay frame before authentication; send Hello uncompressed");
  return length;
}

function decodePayload(head: Buffer, payload: Buffer, maxFrameBytes: number): Frame {
  const flags = head.readUInt8(2);
  const compressed = (flags & FLAG_DEFLATE) !== 0;
  let json: Buffer = payload;
  if (compressed) {
    try {
      json = inflateRawSync(payload, { maxOutputLength: maxFrameBytes });
    } catch (err) {
      const tooBig = err instanceof RangeError || (err as { code?: string }).code === "ERR_BUFFER_TOO_LARGE";
      throw new RelayProtocolError(tooBig ? "RELAY_FRAME_TOO_LARGE" : "RELAY_BAD_PAYLOAD", tooBig ? `relay frame inflates beyond the ${maxFrameBytes}-byte limit` : `relay frame payload does not inflate: ${(err as Error).message}`);
    }
  }
  let body: unknown;
  try {
    body = JSON.parse(json.toString("utf8"));
  } catch {
    throw new RelayProtocolError("RELAY_BAD_PAYLOAD", "relay frame payload is not JSON");
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw new RelayProtocolError("RELAY_BAD_PAYLOAD", "relay frame payload is not a JSON object");
  return {
    type: head.readUInt8(1) as FrameType,
    seq: head.readUInt32BE(8),
    sendTimeMs: head.readDoubleBE(12),
    compressed,
    wireBytes: payload.length,
    body: body as Record<string, unknown>,
  };
}
