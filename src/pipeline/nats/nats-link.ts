/**
 * The publisher's NATS connection: connects in the background (a NATS server that is down at start is
 * fine), lets the client reconnect forever, makes sure the `MINING_EVENTS` stream exists after every
 * (re)connect, and tells the forwarder when publishing can work.
 *
 * nats.js discards whatever was buffered while disconnected, so only a
 * PubAck counts as "sent"; the spool keeps everything else.
 */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, type JetStreamClient, type PubAck, type StreamInfo } from "@nats-io/jetstream";
import { ensureEventStream, type EventStreamOptions } from "./jetstream.ts";
import { natsConnectionOptions, natsSecrets, redactNatsText, type NatsAuth } from "../events/nats-options.ts";

export type { NatsAuth } from "../events/nats-options.ts";

/** Options of {@link NatsLink}; defaults per field. */
export interface NatsLinkOptions {
  /** `nats://host:port` (comma-separated for several). */
  url: string;
  /** Client name shown by the server. Default `tbg-publisher`. */
  name?: string;
  /** Wait between reconnect attempts, ms. Default 1 000. */
  reconnectTimeWaitMs?: number;
  /** Longest wait between first-connect attempts, ms. Default 2 000. */
  connectRetryMaxMs?: number;
  /** One connect attempt gives up after this long (a server that accepts TCP but never speaks), ms. Default 5 000. */
  connectTimeoutMs?: number;
  /** Stream settings applied after each (re)connect. */
  stream?: EventStreamOptions;
  /** Connection and stream-setup errors (for logging). */
  onError?: (err: Error) => void;
  /** Credentials, when the server requires them. */
  auth?: NatsAuth;
  /** The stream as found (or created) after each (re)connect, before the link is marked ready: reset detection. */
  onStream?: (info: StreamInfo) => void;
  /** The link became ready or stopped being ready (for state reporting without waiting for traffic). */
  onReadyChange?: (ready: boolean) => void;
}


/** Counters of a {@link NatsLink}. */
export interface NatsLinkStats {
  /** Connected and the stream is in place. */
  ready: boolean;
  /** Successful (re)connects and stream re-checks (stream in place). */
  connects: number;
  /** Disconnects seen. */
  disconnects: number;
  /** Connect attempts and stream setups that failed. */
  errors: number;
}

/** See the module comment. */
export class NatsLink {
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private isReady = false;
  private closed = false;
  private readonly abort = new AbortController();
  private waiters: Array<() => void> = [];
  private readonly s = { connects: 0, disconnects: 0, errors: 0 };
  private loop: Promise<void> | undefined;
  private rechecking = false;

  constructor(private readonly o: NatsLinkOptions) {
    natsConnectionOptions({ url: o.url, name: "tbg-publisher", auth: o.auth }); // a bad creds/TLS option fails now, not per retry
  }

  /** Starts connecting; resolves at once. */
  start(): void {
    this.loop ??= this.connectLoop();
  }

  get ready(): boolean {
    return this.isReady;
  }

  stats(): NatsLinkStats {
    return { ready: this.isReady, ...this.s };
  }

  /** Resolves when ready (at once if it is), or when `signal` aborts / the link closes. */
  async whenReady(signal?: AbortSignal): Promise<void> {
    if (this.isReady || this.closed || signal?.aborted) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        signal?.removeEventListener("abort", done);
        resolve();
      };
      this.waiters.push(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  /** Publishes with `Nats-Msg-Id` = `msgID`; resolves with the PubAck (its `duplicate` flag set for a repeat). */
  async publish(subject: string, payload: Uint8Array, msgID: string, timeoutMs: number): Promise<PubAck> {
    if (!this.js) throw new Error("NATS not connected");
    return await this.js.publish(subject, payload, { msgID, timeout: timeoutMs });
  }

  /**
   * Re-checks the stream after a failed publish (e.g. "no responders": the stream was deleted while
   * we stayed connected). Marks the link not ready until the stream is back.
   */
  recheck(): void {
    const nc = this.nc;
    if (!nc || nc.isClosed() || this.closed || this.rechecking) return;
    this.rechecking = true;
    this.setReady(false);
    void this.onConnected(nc).finally(() => (this.rechecking = false));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.abort.abort();
    this.setReady(false);
    for (const w of this.waiters.splice(0)) w();
    await this.nc?.close().catch(() => {});
    // A connect attempt in flight cannot be aborted (nats.js waits up to its connect timeout): don't wait
    // for it. The loop sees `closed` when the attempt ends and closes whatever connection it got.
    await Promise.race([this.loop, new Promise((r) => setTimeout(r, 1_000).unref())]);
  }

  private setReady(ready: boolean): void {
    const changed = this.isReady !== ready;
    this.isReady = ready;
    if (changed) this.o.onReadyChange?.(ready);
    if (ready) for (const w of this.waiters.splice(0)) w();
  }

  private note(err: unknown): void {
    this.s.errors++;
    // Error texts may quote the server URL: its token or password never reach a log line.
    const text = redactNatsText(err instanceof Error ? err.message : String(err), natsSecrets(this.o.url, this.o.auth));
    this.o.onError?.(new Error(text, { cause: err }));
  }

  /** Connect (retrying with backoff), then live until the connection closes; repeat until close(). */
  private async connectLoop(): Promise<void> {
    let delay = 100;
    while (!this.closed) {
      let nc: NatsConnection;
      try {
        nc = await connect(natsConnectionOptions({
          url: this.o.url,
          name: this.o.name ?? "tbg-publisher",
          auth: this.o.auth,
          reconnectTimeWaitMs: this.o.reconnectTimeWaitMs ?? 1_000,
          connectTimeoutMs: this.o.connectTimeoutMs ?? 5_000,
        }));
      } catch (err) {
        this.note(err);
        await sleep(delay, this.abort.signal);
        delay = Math.min(delay * 2, this.o.connectRetryMaxMs ?? 2_000);
        continue;
      }
      delay = 100;
      if (this.closed) {
        await nc.close().catch(() => {});
        break;
      }
      this.nc = nc;
      this.js = jetstream(nc);
      void this.watchStatus(nc);
      await this.onConnected(nc);
      await nc.closed(); // the client reconnects by itself; it only closes on close() or a fatal error
      this.setReady(false);
    }
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") {
        this.s.disconnects++;
        this.setReady(false);
      } else if (s.type === "reconnect") {
        void this.onConnected(nc);
      }
    }
  }

  /** Makes sure the stream exists (retrying while JetStream is still starting), then marks ready. */
  private async onConnected(nc: NatsConnection): Promise<void> {
    let delay = 100;
    // Bounded by the connection: stops once it is closed or disconnected again.
    while (!this.closed && !nc.isClosed()) {
      try {
        const info = await ensureEventStream(nc, this.o.stream);
        this.o.onStream?.(info);
        this.s.connects++;
        this.setReady(true);
        return;
      } catch (err) {
        this.note(err);
        await sleep(delay, this.abort.signal);
        delay = Math.min(delay * 2, 2_000);
      }
    }
  }
}

/** setTimeout as a promise that an AbortSignal ends early. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return;
  await new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
