/**
 * The primary's relay server (docs/relay-protocol.md): regional relays connect to the template push
 * port and the control port, authenticate with the shared token, receive every new template the moment
 * the primary adopts it, and submit the blocks they find.
 *
 * A peer cannot exhaust the primary: it must authenticate within `authTimeoutMs`; frames are size-capped
 * by the decoder (`preAuthMaxFrameBytes`, uncompressed only, until authenticated; then `maxFrameBytes`); at most `maxPendingPeers` unauthenticated connections are open at once (and
 * `maxPendingPerIp` from one address), a new one evicting the oldest pending so idle sockets cannot lock
 * relays out; at most `maxPeers` authenticated relay connections; a peer whose unsent data passes
 * `sendQueueMaxBytes` (a slow consumer) is dropped; an authenticated peer silent for `idleTimeoutMs` is
 * dropped. Every refusal is counted by reason and reported through `events` ("refused").
 */
import net from "node:net";
import { once, EventEmitter } from "node:events";
import { createHash, timingSafeEqual } from "node:crypto";
import { encodeFrame, FrameDecoder, FrameType, RelayProtocolError, DEFAULT_MAX_FRAME_BYTES, PRE_AUTH_MAX_FRAME_BYTES, type Frame } from "./protocol.ts";
import { TbgError, errorText } from "../../util/errors.ts";

/** Defaults of {@link RelayServerOptions}. */
export const RELAY_SERVER_LIMITS = {
  authTimeoutMs: 5_000,
  idleTimeoutMs: 30_000,
  maxPeers: 32,
  maxPendingPeers: 16,
  maxPendingPerIp: 4,
  sendQueueMaxBytes: 64 * 1024 * 1024,
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  preAuthMaxFrameBytes: PRE_AUTH_MAX_FRAME_BYTES,
} as const;

export type RelayPort = "push" | "control";
export type RefusalReason = "auth_timeout" | "bad_token" | "protocol" | "max_peers" | "max_pending" | "slow_consumer" | "idle" | "not_hello";

export interface RelayBlockRequest {
  region: string;
  instanceId: number;
  hashHex: string;
  height: number;
  blockHex: string;
}

/** A block on a slim template: header and coinbase; the primary adds the template's transactions. */
export interface RelaySlimBlockRequest {
  region: string;
  instanceId: number;
  hashHex: string;
  height: number;
  templateId: number;
  headerHex: string;
  coinbaseHex: string;
}

export interface RelayBlockAnswer {
  outcome: "accepted" | "lost_race" | "rejected";
  results: unknown[];
}

export interface RelayServerOptions {
  host: string;
  /** Control port (0 = ephemeral). */
  port: number;
  /** Template push port (0 = ephemeral). */
  pushPort: number;
  authToken: string;
  region: string;
  instanceId: number;
  /** Submits a relay's block to this primary's nodes. */
  submitBlock(req: RelayBlockRequest): Promise<RelayBlockAnswer>;
  /**
   * Assembles and submits a block found on a slim template (Stratum worker processes only: the channel
   * that pushes slim templates). Without it such a submission is answered `rejected`.
   */
  submitSlimBlock?(req: RelaySlimBlockRequest): Promise<RelayBlockAnswer>;
  authTimeoutMs?: number;
  idleTimeoutMs?: number;
  /** Authenticated relay connections (both ports together). Default 32. */
  maxPeers?: number;
  /** Unauthenticated connections at once; beyond it the oldest pending one is evicted. Default 16. */
  maxPendingPeers?: number;
  /** Unauthenticated connections from one address; beyond it that address's oldest pending one is evicted. Default 4. */
  maxPendingPerIp?: number;
  sendQueueMaxBytes?: number;
  maxFrameBytes?: number;
  /** Frame limit before a peer authenticates (compressed frames are refused until then). Default 4096. */
  preAuthMaxFrameBytes?: number;
  /** Compress large frames (default true; false on loopback, where deflating a big template only adds latency). */
  compress?: boolean;
  now?: () => number;
}

export interface RelayPeerStatus {
  remote: string;
  port: RelayPort;
  region: string;
  instanceId: number;
  connectedAtMs: number;
  framesSent: number;
}

export interface RelayServerStatus {
  listening: { control: number; push: number };
  relays: RelayPeerStatus[];
  templatesPushed: number;
  templateSeq: number;
  blocksFromRelays: number;
  refused: Record<string, number>;
}

export interface RelayServerEvents {
  refused: [{ remote: string; port: RelayPort; reason: RefusalReason; detail: string }];
  authenticated: [{ remote: string; port: RelayPort; region: string; instanceId: number }];
  peerClosed: [{ remote: string; port: RelayPort; region: string | null }];
  relayBlock: [{ request: RelayBlockRequest; answer: RelayBlockAnswer }];
}

/** The relay server could not listen. */
export class RelayServerListenError extends TbgError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("RELAY_SERVER_LISTEN", message, options);
  }
}

interface Peer {
  socket: net.Socket;
  port: RelayPort;
  remote: string;
  ip: string;
  decoder: FrameDecoder;
  authed: boolean;
  region: string | null;
  instanceId: number;
  seq: number;
  connectedAtMs: number;
  lastRecvMs: number;
  framesSent: number;
  authTimer: NodeJS.Timeout | null;
  closed: boolean;
}

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();

export class RelayServer {
  readonly events = new EventEmitter<RelayServerEvents>();
  private readonly peers = new Set<Peer>();
  private readonly servers: net.Server[] = [];
  private readonly tokenDigest: Buffer;
  private readonly now: () => number;
  private readonly refused: Record<string, number> = {};
  private currentTemplate: { type: FrameType; body: Record<string, unknown> } | null = null;
  private templateSeq = 0;
  private templatesPushed = 0;
  private blocksFromRelays = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  private bound = { control: 0, push: 0 };

  constructor(private readonly opts: RelayServerOptions) {
    this.tokenDigest = digest(opts.authToken);
    this.now = opts.now ?? Date.now;
  }

  async start(): Promise<void> {
    for (const [port, kind] of [
      [this.opts.port, "control"],
      [this.opts.pushPort, "push"],
    ] as const) {
      const server = net.createServer((s) => this.accept(s, kind));
      server.on("error", () => undefined);
      try {
        server.listen(port, this.opts.host);
        await Promise.race([once(server, "listening"), once(server, "error").then(([e]) => Promise.reject(e as Error))]);
      } catch (err) {
        await this.close();
        throw new RelayServerListenError(`relay_server: cannot listen on ${this.opts.host}:${port} (${kind}): ${errorText(err)}; free the port or change relay_server.${kind === "push" ? "template_push_port" : "port"}`, { cause: err });
      }
      this.servers.push(server);
      this.bound[kind] = (server.address() as net.AddressInfo).port;
    }
    const idle = this.opts.idleTimeoutMs ?? RELAY_SERVER_LIMITS.idleTimeoutMs;
    this.idleTimer = setInterval(() => {
      const t = this.now();
      for (const p of this.peers) if (p.authed && t - p.lastRecvMs > idle) this.refuse(p, "idle", `nothing received for ${idle} ms`);
    }, Math.min(1000, idle / 2));
    this.idleTimer.unref();
  }

  /** Bound ports (the configured ones, or the ephemeral ones chosen). */
  get ports(): { control: number; push: number } {
    return { ...this.bound };
  }

  /**
   * A new template was adopted: push it to every authenticated relay at once. `slim`: a slim template
   * (SlimTemplate frame; for Stratum worker processes, src/core/work/slim-template.ts).
   */
  pushTemplate(template: object, opts: { slim?: boolean } = {}): void {
    this.currentTemplate = { type: opts.slim ? FrameType.SlimTemplate : FrameType.Template, body: { templateSeq: ++this.templateSeq, template } };
    this.templatesPushed++;
    let frame: Buffer | null = null;
    for (const p of this.peers) {
      if (!p.authed || p.port !== "push") continue;
      // Encoded once per peer only for the seq field: compress once, patch seq per peer.
      frame ??= encodeFrame(this.currentTemplate.type, 0, this.currentTemplate.body, this.now(), { compress: this.opts.compress });
      this.sendRaw(p, frame);
    }
  }

  status(): RelayServerStatus {
    return {
      listening: this.ports,
      relays: [...this.peers]
        .filter((p) => p.authed)
        .map((p) => ({ remote: p.remote, port: p.port, region: p.region ?? "", instanceId: p.instanceId, connectedAtMs: p.connectedAtMs, framesSent: p.framesSent })),
      templatesPushed: this.templatesPushed,
      templateSeq: this.templateSeq,
      blocksFromRelays: this.blocksFromRelays,
      refused: { ...this.refused },
    };
  }

  async close(): Promise<void> {
    if (this.idleTimer) clearInterval(this.idleTimer);
    for (const p of this.peers) this.drop(p);
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    this.servers.length = 0;
  }

  private accept(socket: net.Socket, port: RelayPort): void {
    const remote = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? 0}`;
    const t = this.now();
    const peer: Peer = {
      socket,
      port,
      remote,
      ip: socket.remoteAddress ?? "?",
      // Until Hello is accepted: small frames only and nothing to inflate.
      decoder: new FrameDecoder(this.opts.preAuthMaxFrameBytes ?? RELAY_SERVER_LIMITS.preAuthMaxFrameBytes, { allowCompressed: false }),
      authed: false,
      region: null,
      instanceId: -1,
      seq: 0,
      connectedAtMs: t,
      lastRecvMs: t,
      framesSent: 0,
      authTimer: null,
      closed: false,
    };
    socket.setNoDelay(true);
    socket.on("error", () => undefined);
    socket.on("close", () => this.drop(peer));
    // Pending (unauthenticated) peers have their own caps, apart from the relays': when full, the oldest
    // pending peer (per address, then overall) makes room, so idle sockets never lock a relay out.
    const perIp = this.opts.maxPendingPerIp ?? RELAY_SERVER_LIMITS.maxPendingPerIp;
    const pendingMax = this.opts.maxPendingPeers ?? RELAY_SERVER_LIMITS.maxPendingPeers;
    const pending = [...this.peers].filter((p) => !p.authed);
    const sameIp = pending.filter((p) => p.ip === peer.ip);
    if (sameIp.length >= perIp) this.refuse(sameIp[0]!, "max_pending", `${sameIp.length} unauthenticated connections from ${peer.ip} (limit ${perIp}); oldest evicted`);
    else if (pending.length >= pendingMax) this.refuse(pending[0]!, "max_pending", `${pending.length} unauthenticated connections (limit ${pendingMax}); oldest evicted`);
    this.peers.add(peer);
    const authMs = this.opts.authTimeoutMs ?? RELAY_SERVER_LIMITS.authTimeoutMs;
    peer.authTimer = setTimeout(() => this.refuse(peer, "auth_timeout", `no valid Hello within ${authMs} ms`), authMs);
    socket.on("data", (data: Buffer) => this.onData(peer, data));
  }

  private onData(peer: Peer, data: Buffer): void {
    if (peer.closed) return;
    let frames: Frame[];
    try {
      frames = peer.decoder.push(data);
    } catch (err) {
      this.refuse(peer, "protocol", err instanceof RelayProtocolError ? `${err.code}: ${err.message}` : errorText(err));
      return;
    }
    for (const f of frames) {
      if (peer.closed) return;
      if (peer.authed) peer.lastRecvMs = this.now();
      this.onFrame(peer, f);
    }
  }

  private onFrame(peer: Peer, f: Frame): void {
    if (!peer.authed) {
      if (f.type !== FrameType.Hello) return this.refuse(peer, "not_hello", `first frame must be Hello, got type ${f.type}`);
      const token = typeof f.body.token === "string" ? f.body.token : "";
      if (!timingSafeEqual(digest(token), this.tokenDigest)) return this.refuse(peer, "bad_token", "auth_token does not match relay_server.auth_token");
      const maxPeers = this.opts.maxPeers ?? RELAY_SERVER_LIMITS.maxPeers;
      const authed = [...this.peers].filter((p) => p.authed).length;
      if (authed >= maxPeers) return this.refuse(peer, "max_peers", `already ${authed} relay connections (limit ${maxPeers})`);
      const region = typeof f.body.region === "string" ? f.body.region.slice(0, 64) : "?";
      const instanceId = typeof f.body.instanceId === "number" ? f.body.instanceId : -1;
      peer.authed = true;
      peer.decoder.setLimits(this.opts.maxFrameBytes ?? RELAY_SERVER_LIMITS.maxFrameBytes);
      peer.region = region;
      peer.instanceId = instanceId;
      peer.lastRecvMs = this.now();
      if (peer.authTimer) clearTimeout(peer.authTimer);
      peer.authTimer = null;
      this.send(peer, FrameType.Welcome, { region: this.opts.region, instanceId: this.opts.instanceId, port: peer.port });
      this.events.emit("authenticated", { remote: peer.remote, port: peer.port, region, instanceId });
      if (peer.port === "push" && this.currentTemplate) this.send(peer, this.currentTemplate.type, this.currentTemplate.body);
      return;
    }
    switch (f.type) {
      case FrameType.Ping:
        this.send(peer, FrameType.Pong, { id: f.body.id ?? null, pingSendTimeMs: f.sendTimeMs });
        return;
      case FrameType.Pong:
        return;
      case FrameType.BlockSubmit:
        if (peer.port !== "control") return this.refuse(peer, "protocol", "BlockSubmit is accepted on the control port only");
        void this.onBlockSubmit(peer, f.body);
        return;
      default:
        return this.refuse(peer, "protocol", `frame type ${f.type} is not expected from a relay`);
    }
  }

  private async onBlockSubmit(peer: Peer, body: Record<string, unknown>): Promise<void> {
    const id = body.id ?? null;
    const hashHex = typeof body.hashHex === "string" && /^[0-9a-f]{64}$/.test(body.hashHex) ? body.hashHex : null;
    if (body.templateId !== undefined) return this.onSlimBlockSubmit(peer, body, hashHex);
    const blockHex = typeof body.blockHex === "string" && /^[0-9a-fA-F]+$/.test(body.blockHex) && body.blockHex.length % 2 === 0 ? body.blockHex : null;
    if (!hashHex || !blockHex) {
      this.send(peer, FrameType.BlockResult, { id, hashHex: body.hashHex ?? null, outcome: "rejected", results: [], error: "hashHex (64 lowercase hex) and blockHex (hex) are required" });
      return;
    }
    const request: RelayBlockRequest = { region: peer.region ?? "?", instanceId: peer.instanceId, hashHex, height: typeof body.height === "number" ? body.height : -1, blockHex };
    this.blocksFromRelays++;
    let answer: RelayBlockAnswer;
    try {
      answer = await this.opts.submitBlock(request);
    } catch (err) {
      answer = { outcome: "rejected", results: [{ error: errorText(err) }] };
    }
    this.events.emit("relayBlock", { request, answer });
    if (!peer.closed) this.send(peer, FrameType.BlockResult, { id, hashHex, outcome: answer.outcome, results: answer.results });
  }

  /** A block on a slim template (header + coinbase + template id): the primary assembles it. */
  private async onSlimBlockSubmit(peer: Peer, body: Record<string, unknown>, hashHex: string | null): Promise<void> {
    const id = body.id ?? null;
    const hex = (v: unknown) => (typeof v === "string" && /^[0-9a-fA-F]*$/.test(v) && v.length % 2 === 0 && v.length > 0 ? v : null);
    const headerHex = hex(body.headerHex);
    const coinbaseHex = hex(body.coinbaseHex);
    const templateId = Number.isInteger(body.templateId) ? (body.templateId as number) : null;
    if (!hashHex || !headerHex || !coinbaseHex || templateId === null || !this.opts.submitSlimBlock) {
      const error = this.opts.submitSlimBlock ? "hashHex, templateId, headerHex and coinbaseHex are required" : "this server does not assemble blocks from slim templates; send blockHex";
      this.send(peer, FrameType.BlockResult, { id, hashHex: body.hashHex ?? null, outcome: "rejected", results: [{ error }], error });
      return;
    }
    const request: RelaySlimBlockRequest = { region: peer.region ?? "?", instanceId: peer.instanceId, hashHex, height: typeof body.height === "number" ? body.height : -1, templateId, headerHex, coinbaseHex };
    this.blocksFromRelays++;
    let answer: RelayBlockAnswer;
    try {
      answer = await this.opts.submitSlimBlock(request);
    } catch (err) {
      answer = { outcome: "rejected", results: [{ error: errorText(err) }] };
    }
    if (!peer.closed) this.send(peer, FrameType.BlockResult, { id, hashHex, outcome: answer.outcome, results: answer.results });
  }

  private send(peer: Peer, type: FrameType, body: Record<string, unknown>): void {
    this.sendRaw(peer, encodeFrame(type, 0, body, this.now(), { compress: this.opts.compress }));
  }

  /** Writes a frame with this peer's next seq (patched into a copy of the header). */
  private sendRaw(peer: Peer, frame: Buffer): void {
    if (peer.closed || peer.socket.destroyed) return;
    const limit = this.opts.sendQueueMaxBytes ?? RELAY_SERVER_LIMITS.sendQueueMaxBytes;
    if (peer.socket.writableLength + frame.length > limit) {
      this.refuse(peer, "slow_consumer", `${peer.socket.writableLength} bytes unsent (limit ${limit})`);
      return;
    }
    const head = Buffer.from(frame.subarray(0, 12));
    head.writeUInt32BE(++peer.seq >>> 0, 8);
    peer.socket.write(head);
    peer.socket.write(frame.subarray(12));
    peer.framesSent++;
  }

  private refuse(peer: Peer, reason: RefusalReason, detail: string): void {
    if (peer.closed) return;
    this.refused[reason] = (this.refused[reason] ?? 0) + 1;
    this.events.emit("refused", { remote: peer.remote, port: peer.port, reason, detail });
    if (reason !== "slow_consumer" && !peer.socket.destroyed) {
      try {
        peer.socket.end(encodeFrame(FrameType.Refuse, ++peer.seq, { code: `RELAY_${reason.toUpperCase()}`, message: detail }, this.now()));
      } catch {
        /* closing anyway */
      }
      const s = peer.socket;
      setTimeout(() => s.destroy(), 200).unref();
    } else peer.socket.destroy();
    this.drop(peer);
  }

  private drop(peer: Peer): void {
    if (!this.peers.delete(peer)) return;
    peer.closed = true;
    if (peer.authTimer) clearTimeout(peer.authTimer);
    if (!peer.socket.destroyed && !peer.socket.writableEnded) peer.socket.destroy();
    if (peer.authed) this.events.emit("peerClosed", { remote: peer.remote, port: peer.port, region: peer.region });
  }
}
