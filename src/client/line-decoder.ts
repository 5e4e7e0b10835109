/**
 * Newline framing for Stratum V1 (one JSON object per `\n`-terminated line, protocol.md §1.1).
 * Pure and push-based (STYLE.md §2): feed it chunks as they arrive, it keeps the partial line across
 * reads, enforces its own length limit and calls `onLine` once per complete line.
 * public-pool splits each TCP chunk without keeping the tail (public-pool.md §3); this does not.
 */

/** Options for {@link LineDecoder}. */
export interface LineDecoderOptions {
  /** Longest accepted line in bytes, excluding the terminator. */
  maxLineBytes: number;
  /** Called for each complete non-empty line (a trailing `\r` is stripped). */
  onLine: (line: string) => void;
  /** Called once when a line exceeds `maxLineBytes`; the decoder then discards everything. */
  onOverflow: () => void;
}

const NEWLINE = 0x0a;

/** Splits a byte stream into lines. */
export class LineDecoder {
  private readonly opts: LineDecoderOptions;
  /** Pieces of the current, not yet terminated line. */
  private parts: Buffer[] = [];
  private partBytes = 0;
  private overflowed = false;

  constructor(opts: LineDecoderOptions) {
    this.opts = opts;
  }

  /** Bytes held for the current partial line. */
  get pendingBytes(): number {
    return this.partBytes;
  }

  /** Feeds one chunk of input. */
  push(chunk: Buffer): void {
    if (this.overflowed) return;
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(NEWLINE, start);
      if (nl === -1) {
        const rest = chunk.length - start;
        if (this.partBytes + rest > this.opts.maxLineBytes) return this.overflow();
        this.parts.push(chunk.subarray(start));
        this.partBytes += rest;
        return;
      }
      const pieceBytes = nl - start;
      if (this.partBytes + pieceBytes > this.opts.maxLineBytes) return this.overflow();
      let line: string;
      if (this.parts.length === 0) {
        line = chunk.toString("utf8", start, nl);
      } else {
        this.parts.push(chunk.subarray(start, nl));
        line = Buffer.concat(this.parts, this.partBytes + pieceBytes).toString("utf8");
        this.parts = [];
        this.partBytes = 0;
      }
      start = nl + 1;
      if (line.endsWith("\r")) line = line.slice(0, -1);
      if (line.length > 0) this.opts.onLine(line);
      if (this.overflowed) return;
    }
  }

  private overflow(): void {
    this.overflowed = true;
    this.parts = [];
    this.partBytes = 0;
    this.opts.onOverflow();
  }
}
