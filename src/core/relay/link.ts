/**
 * The relay's link to its primary (docs/relay-protocol.md): one connection to the template push port,
 * one to the control port, each authenticated with the shared token, pinged every `pingIntervalMs`
 * (RTT) and reconnected `reconnectIntervalMs` after any loss. Templates arrive through `events`;
 * `submitBlock` sends a found block over the control connection and resolves with the primary's answer.
 */
import net from "node:net";
import { EventEmitter } from "node:events";
import { encodeFrame, FrameDecoder, FrameType, RelayProtocolError, type Frame } from "./protocol.ts";
import { TbgError, errorText } from "../../util/errors.ts";
import type { RelayBlockAnswer, RelayPort } from "./server.ts";
import type { SlimBlock } from "../work/slim-template.ts";

export interface PrimaryLinkOptions {
  host: string;
  controlPort: number;
  pushPort: number;
  authToken: string;
  region: string;
  instanceId: number;
  reconnectIntervalMs: number;
  /** Default 1000. */
  pingIntervalMs?: number;
  /** A block submission unanswered after this long is given up on (ms). Default 10 000. */
  submitTimeoutMs?: number;
  now?: () => number;
}

export interface PrimaryTemplate {
  template: Record<string, unknown>;
  /** A slim template (SlimTemplate frame: no transactions; blocks on it are assembled by the primary). */
  slim: boolean;
  templateSeq: number;
  /** Primary send time → receipt, ms (clock skew included). */
  latencyMs: number;
  receivedAtMs: number;
  wireBytes: number;
}

export interface LinkConnectionStatus {
  port: RelayPort;
  address: string;
  connected: boolean;
  /** Authenticated (Welcome received). */
  ready: boolean;
  lastRttMs: number | null;
  connects: number;
  lastError: string | null;
}

export interface PrimaryLinkStatus {
  push: LinkConnectionStatus;
  control: LinkConnectionStatus;
  lastContactMs: number | null;
  templatesReceived: number;
  /** Templates the primary numbered but this relay never received (templateSeq jumps). */
  templateGaps: number;
  lastTemplateLatencyMs: number | null;
}

export interface PrimaryLinkEvents {
  template: [PrimaryTemplate];
  ready: [{ port: RelayPort }];
  lost: [{ port: RelayPort; error: string }];
  refused: [{ port: RelayPort; code: string; message: string }];
  rtt: [{ port: RelayPort; rttMs: number }];
}

/** The primary could not take a block (not connected, timed out). */
export class PrimarySubmitError extends TbgError {}

class Connection {
  socket: net.Socket | null = null;
  ready = false;
  seq = 0;
  lastRttMs: number | null = null;
  connects = 0;
  lastError: string | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private pingId = 0;
  private closed = false;

  constructor(
    readonly port: RelayPort,
    private readonly tcpPort: number,
    private readonly link: PrimaryLink,
    private readonly opts: PrimaryLinkOptions,
  ) {}

  start(): void {
    this.connect();
  }

  private connect(): void {
    if (this.closed) return;
    const socket = net.connect(this.tcpPort, this.opts.host);
    this.socket = socket;
    socket.setNoDelay(true);
    const decoder = new FrameDecoder();
    socket.on("connect", () => {
      this.connects++;
      this.write(FrameType.Hello, { token: this.opts.authToken, region: this.opts.region, instanceId: this.opts.instanceId }, { compress: false });
      this.pingTimer = setInterval(() => this.write(FrameType.Ping, { id: ++this.pingId }), this.opts.pingIntervalMs ?? 1000);
      this.pingTimer.unref();
    });
    socket.on("data", (data: Buffer) => {
      let frames: Frame[];
      try {
        frames = decoder.push(data);
      } catch (err) {
        this.fail(err instanceof RelayProtocolError ? `${err.code}: ${err.message}` : errorText(err));
        return;
      }
      for (const f of frames) this.onFrame(f);
    });
    socket.on("error", (err) => (this.lastError = errorText(err)));
    socket.on("close", () => this.onClose());
  }

  private onFrame(f: Frame): void {
    // Only an authenticated connection is contact with the primary: a Refuse (wrong token, max
    // peers) or anything sent before Welcome must not hold off independent mode.
    if (f.type !== FrameType.Refuse && (this.ready || f.type === FrameType.Welcome)) this.link.contact();
    switch (f.type) {
      case FrameType.Welcome:
        this.ready = true;
        this.lastError = null;
        this.link.events.emit("ready", { port: this.port });
        return;
      case FrameType.Refuse: {
        const code = String(f.body.code ?? "RELAY_REFUSED");
        const message = String(f.body.message ?? "");
        this.lastError = `${code}: ${message}`;
        this.link.events.emit("refused", { port: this.port, code, message });
        return;
      }
      case FrameType.Ping:
        this.write(FrameType.Pong, { id: f.body.id ?? null, pingSendTimeMs: f.sendTimeMs });
        return;
      case FrameType.Pong: {
        const sent = Number(f.body.pingSendTimeMs);
        if (Number.isFinite(sent)) {
          this.lastRttMs = Math.max(0, this.link.now() - sent);
          this.link.events.emit("rtt", { port: this.port, rttMs: this.lastRttMs });
        }
        return;
      }
      case FrameType.Template:
      case FrameType.SlimTemplate:
        if (this.port === "push") this.link.onTemplate(f);
        return;
      case FrameType.BlockResult:
        this.link.onBlockResult(f.body);
        return;
      default:
        return;
    }
  }

  write(type: FrameType, body: Record<string, unknown>, opts: { compress?: boolean } = {}): boolean {
    const s = this.socket;
    if (!s || s.destroyed || !s.writable) return false;
    s.write(encodeFrame(type, ++this.seq, body, this.link.now(), opts));
    return true;
  }

  private fail(error: string): void {
    this.lastError = error;
    // Not ready from now on: the socket's 'close' comes a loop turn (or, on a busy machine, several
    // ms) later, and /health must not call a connection we have just dropped connected meanwhile.
    this.markLost();
    this.socket?.destroy();
  }

  private markLost(): void {
    if (!this.ready) return;
    this.ready = false;
    this.link.events.emit("lost", { port: this.port, error: this.lastError ?? "connection closed" });
  }

  private onClose(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
    this.markLost();
    this.socket = null;
    this.seq = 0;
    if (this.closed) return;
    this.retryTimer = setTimeout(() => this.connect(), this.opts.reconnectIntervalMs);
    this.retryTimer.unref();
  }

  /** Drops the connection now (e.g. the primary stopped answering); it reconnects as after any loss. */
  reset(reason: string): void {
    if (this.socket) this.fail(reason);
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.socket?.destroy();
  }

  status(): LinkConnectionStatus {
    return { port: this.port, address: `${this.opts.host}:${this.tcpPort}`, connected: this.socket !== null && !this.socket.connecting && !this.socket.destroyed, ready: this.ready, lastRttMs: this.lastRttMs, connects: this.connects, lastError: this.lastError };
  }
}

export class PrimaryLink {
  readonly events = new EventEmitter<PrimaryLinkEvents>();
  readonly now: () => number;
  private readonly push: Connection;
  private readonly control: Connection;
  private lastContact: number | null = null;
  private templatesReceived = 0;
  private templateGaps = 0;
  private lastTemplateSeq: number | null = null;
  private lastLatencyMs: number | null = null;
  private submitId = 0;
  private readonly waiting = new Map<number, { resolve: (a: RelayBlockAnswer) => void; timer: NodeJS.Timeout }>();

  constructor(private readonly opts: PrimaryLinkOptions) {
    this.now = opts.now ?? Date.now;
    this.push = new Connection("push", opts.pushPort, this, opts);
    this.control = new Connection("control", opts.controlPort, this, opts);
  }

  start(): void {
    this.push.start();
    this.control.start();
  }

  /** When the primary was last heard from (Welcome or any later frame on an authenticated connection; never a Refuse). */
  get lastContactMs(): number | null {
    return this.lastContact;
  }

  /** Whether the push connection is authenticated. */
  get pushReady(): boolean {
    return this.push.ready;
  }

  /** @internal */
  contact(): void {
    this.lastContact = this.now();
  }

  /** @internal */
  onTemplate(f: Frame): void {
    const template = f.body.template;
    const templateSeq = Number(f.body.templateSeq);
    if (template === null || typeof template !== "object" || !Number.isInteger(templateSeq)) return;
    const receivedAtMs = this.now();
    if (this.lastTemplateSeq !== null && templateSeq > this.lastTemplateSeq + 1) this.templateGaps += templateSeq - this.lastTemplateSeq - 1;
    this.lastTemplateSeq = templateSeq;
    this.templatesReceived++;
    this.lastLatencyMs = Math.max(0, receivedAtMs - f.sendTimeMs);
    this.events.emit("template", { template: template as Record<string, unknown>, slim: f.type === FrameType.SlimTemplate, templateSeq, latencyMs: this.lastLatencyMs, receivedAtMs, wireBytes: f.wireBytes });
  }

  /** @internal */
  onBlockResult(body: Record<string, unknown>): void {
    const id = Number(body.id);
    const w = this.waiting.get(id);
    if (!w) return;
    this.waiting.delete(id);
    clearTimeout(w.timer);
    const outcome = body.outcome === "accepted" || body.outcome === "lost_race" ? body.outcome : "rejected";
    w.resolve({ outcome, results: Array.isArray(body.results) ? body.results : [] });
  }

  /**
   * Sends a found block to the primary (the whole block, or a {@link SlimBlock} the primary assembles);
   * resolves with its outcome, rejects when it cannot be delivered or answered.
   */
  submitBlock(req: { hashHex: string; height: number } & ({ blockHex: string } | SlimBlock)): Promise<RelayBlockAnswer> {
    if (!this.control.ready) return Promise.reject(new PrimarySubmitError("PRIMARY_UNREACHABLE", "control connection to the primary is down"));
    const id = ++this.submitId;
    const timeoutMs = this.opts.submitTimeoutMs ?? 10_000;
    return new Promise<RelayBlockAnswer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new PrimarySubmitError("PRIMARY_TIMEOUT", `primary did not answer the block submission within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, { resolve, timer });
      if (!this.control.write(FrameType.BlockSubmit, { id, ...req, region: this.opts.region })) {
        clearTimeout(timer);
        this.waiting.delete(id);
        reject(new PrimarySubmitError("PRIMARY_UNREACHABLE", "control connection to the primary is down"));
      }
    });
  }

  /** Drops both connections (they reconnect): used when the primary has been silent too long. */
  reset(reason: string): void {
    this.push.reset(reason);
    this.control.reset(reason);
  }

  status(): PrimaryLinkStatus {
    return {
      push: this.push.status(),
      control: this.control.status(),
      lastContactMs: this.lastContact,
      templatesReceived: this.templatesReceived,
      templateGaps: this.templateGaps,
      lastTemplateLatencyMs: this.lastLatencyMs,
    };
  }

  close(): void {
    this.push.close();
    this.control.close();
    for (const [id, w] of this.waiting) {
      clearTimeout(w.timer);
      this.waiting.delete(id);
      w.resolve({ outcome: "rejected", results: [{ error: "relay shutting down" }] });
    }
  }
}
