/**
 * Stratum V1 framing: one JSON object per line, terminated by `\n`.
 * A push parser: feed it whatever the socket delivered; it keeps the partial line
 * across reads, enforces the line limit itself, and hands complete lines to `onLine`.
 * Pure: no sockets, no timers.
 */

/** What the decoder reports when a peer breaks the framing rules. */
export type FramingViolation = { kind: "line_too_long"; bytes: number; limitBytes: number };

export interface LineDecoderOptions {
  /** Longest accepted line in bytes, excluding the newline. Default 4096 (ESP-Miner proposals used 8–16 KiB for the other direction). */
  maxLineBytes?: number;
  /** Called with each complete line (without `\n` and a trailing `\r`), blank lines skipped. */
  onLine: (line: string) => void;
  /** Called once when the peer exceeds the limit; the decoder then discards everything. */
  onViolation: (v: FramingViolation) => void;
}

export class LineDecoder {
  private readonly maxLineBytes: number;
  private readonly onLine: (line: string) => void;
  private readonly onViolation: (v: FramingViolation) => void;
  /** Bytes of the current, not yet terminated line. */
  private parts: Buffer[] = [];
  private partBytes = 0;
  private broken = false;

  constructor(opts: LineDecoderOptions) {
    this.maxLineBytes = opts.maxLineBytes ?? 4096;
    this.onLine = opts.onLine;
    this.onViolation = opts.onViolation;
  }

  /** Bytes held for an unterminated line (for memory accounting). */
  get pendingBytes(): number {
    return this.partBytes;
  }

  push(chunk: Buffer): void {
    if (this.broken) return;
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(10, start);
      if (nl === -1) {
        const rest = chunk.length - start;
        if (this.partBytes + rest > this.maxLineBytes) return this.violate(this.partBytes + rest);
        this.parts.push(start === 0 ? chunk : chunk.subarray(start));
        this.partBytes += rest;
        return;
      }
      const len = nl - start;
      if (this.partBytes + len > this.maxLineBytes) return this.violate(this.partBytes + len);
      let line: string;
      if (this.partBytes === 0) {
        line = chunk.toString("utf8", start, nl);
      } else {
        this.parts.push(chunk.subarray(start, nl));
        line = Buffer.concat(this.parts, this.partBytes + len).toString("utf8");
        this.parts = [];
        this.partBytes = 0;
      }
      start = nl + 1;
      if (line.endsWith("\r")) line = line.slice(0, -1);
      if (line.trim().length > 0) this.onLine(line);
      if (this.broken) return; // onLine may have closed the session
    }
  }

  /** Stops delivering lines (after a violation or when the session closes). */
  stop(): void {
    this.broken = true;
    this.parts = [];
    this.partBytes = 0;
  }

  private violate(bytes: number): void {
    this.stop();
    this.onViolation({ kind: "line_too_long", bytes, limitBytes: this.maxLineBytes });
  }
}
