/**
 * A real ZMQ publisher of Bitcoin Core's `hashblock` (and, for the bench node, `rawblock`) notifications
 * (doc/zmq.md) for the embedded node. Each topic has its own sequence counter, as in Core.
 *
 * It is an XPUB rather than bitcoind's PUB: identical on the wire for subscribers, but it also sees
 * subscription messages, so tests can wait until a subscriber is really subscribed instead of racing
 * ZMQ's "slow joiner" (messages published before the subscription arrives are silently dropped).
 */
import * as zmq from "zeromq";
import { encodeHashblock, encodeRawblock, HASHBLOCK_TOPIC, RAWBLOCK_TOPIC } from "../../core/bitcoind/zmq-format.ts";
import { TbgError } from "../../util/errors.ts";

/** Options of {@link HashblockPublisher}. */
export interface HashblockPublisherOptions {
  /** Interface to bind. Default 127.0.0.1. */
  host?: string;
  /** TCP port; 0 picks a free one, which is then reused by later `start()` calls. */
  port: number;
}

interface Waiter {
  count: number;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** How often a re-bind of the same port is attempted while the old listener is still being torn down. */
const REBIND_ATTEMPTS = 50;
const REBIND_DELAY_MS = 20;

/** Publishes `hashblock` in Bitcoin Core's 3-frame format. `start()`/`close()` may be repeated. */
export class HashblockPublisher {
  readonly #host: string;
  #port: number;
  #socket: zmq.XPublisher | undefined;
  #sequence = 0;
  #rawSequence = 0;
  #subscriptions = 0;
  #rawSubscriptions = 0;
  #waiters: Waiter[] = [];
  #sending: Promise<void> = Promise.resolve();

  constructor(opts: HashblockPublisherOptions) {
    this.#host = opts.host ?? "127.0.0.1";
    this.#port = opts.port;
  }

  /** `tcp://host:port` (port valid after the first start). */
  get endpoint(): string {
    return `tcp://${this.#host}:${this.#port}`;
  }

  get port(): number {
    return this.#port;
  }

  get open(): boolean {
    return this.#socket !== undefined;
  }

  /** Next sequence number to be sent (= messages sent since start or the last reset). */
  get sequence(): number {
    return this.#sequence;
  }

  /** Subscribe requests for `hashblock` received so far (monotonic; a reconnecting subscriber counts again). */
  get subscriptionCount(): number {
    return this.#subscriptions;
  }

  /** Subscribe requests for `rawblock` so far (monotonic). */
  get rawblockSubscriptionCount(): number {
    return this.#rawSubscriptions;
  }

  /** Next `rawblock` sequence number. */
  get rawblockSequence(): number {
    return this.#rawSequence;
  }

  /** Binds (again on the same port after a `close()`). */
  async start(): Promise<void> {
    if (this.#socket) return;
    const socket = new zmq.XPublisher({ linger: 0, verbosity: "allSubs" });
    try {
      await this.#bind(socket);
    } catch (err) {
      socket.close();
      throw err;
    }
    this.#socket = socket;
    void this.#readSubscriptions(socket);
  }

  async #bind(socket: zmq.XPublisher): Promise<void> {
    if (this.#port === 0) {
      await socket.bind(`tcp://${this.#host}:*`);
      const last = socket.lastEndpoint ?? "";
      this.#port = Number(last.slice(last.lastIndexOf(":") + 1));
      return;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        await socket.bind(this.endpoint);
        return;
      } catch (err) {
        // The previous socket's listener is closed by libzmq's I/O thread asynchronously.
        if ((err as { code?: string }).code !== "EADDRINUSE" || attempt >= REBIND_ATTEMPTS) {
          throw new TbgError("ZMQ_BIND", `cannot bind ${this.endpoint}: ${(err as Error).message}`, { cause: err });
        }
        await new Promise((resolve) => setTimeout(resolve, REBIND_DELAY_MS));
      }
    }
  }

  async #readSubscriptions(socket: zmq.XPublisher): Promise<void> {
    try {
      for await (const [msg] of socket) {
        // XPUB subscription message: 0x01 (subscribe) or 0x00 (unsubscribe), then the topic prefix.
        if (msg.length >= 1 && msg[0] === 1) {
          const prefix = msg.subarray(1).toString("ascii");
          if (RAWBLOCK_TOPIC.startsWith(prefix)) this.#rawSubscriptions++;
          if (HASHBLOCK_TOPIC.startsWith(prefix)) {
            this.#subscriptions++;
            this.#wake();
          }
        }
      }
    } catch {
      // The socket was closed.
    }
  }

  #wake(): void {
    this.#waiters = this.#waiters.filter((w) => {
      if (this.#subscriptions < w.count) return true;
      clearTimeout(w.timer);
      w.resolve();
      return false;
    });
  }

  /** Resolves once {@link subscriptionCount} reaches `count`; rejects with ZMQ_WAIT_TIMEOUT after `timeoutMs`. */
  waitForSubscriptions(count: number, timeoutMs = 5_000): Promise<void> {
    if (this.#subscriptions >= count) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        count,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          reject(new TbgError("ZMQ_WAIT_TIMEOUT", `no ${count}th hashblock subscription within ${timeoutMs} ms (have ${this.#subscriptions})`));
        }, timeoutMs),
      };
      this.#waiters.push(waiter);
    });
  }

  /**
   * Publishes a new tip (display-order hex, as getbestblockhash). Dropped while closed, like a dead bitcoind.
   * Sends are serialised (zeromq allows one pending send per socket).
   */
  publishHashblock(hashHex: string): Promise<void> {
    const socket = this.#socket;
    if (!socket) return Promise.resolve();
    const frames = encodeHashblock(hashHex, this.#sequence);
    this.#sequence = (this.#sequence + 1) >>> 0;
    this.#sending = this.#sending.then(() => (socket.closed ? undefined : socket.send(frames))).catch(() => {});
    return this.#sending;
  }

  /**
   * Publishes a new block in full (`rawblock`: the serialized block, wire format). Dropped while closed,
   * like hashblock; the XPUB sends it only to subscribers of the topic.
   */
  publishRawblock(block: Buffer): Promise<void> {
    const socket = this.#socket;
    if (!socket) return Promise.resolve();
    const frames = encodeRawblock(block, this.#rawSequence);
    this.#rawSequence = (this.#rawSequence + 1) >>> 0;
    this.#sending = this.#sending.then(() => (socket.closed ? undefined : socket.send(frames))).catch(() => {});
    return this.#sending;
  }

  /** Restarts the sequences at 0, as a restarted bitcoind does. */
  resetSequence(): void {
    this.#sequence = 0;
    this.#rawSequence = 0;
  }

  /** Unbinds and closes the socket; subscribers see the publisher disappear and keep reconnecting. */
  async close(): Promise<void> {
    const socket = this.#socket;
    if (!socket) return;
    this.#socket = undefined;
    await this.#sending;
    // No unbind() before close(): libzmq 4.3.5 (zeromq 6.8) aborts in pipe.cpp when a verbose XPUB is
    // unbound while a subscriber's pipe is terminating. close() releases the port asynchronously;
    // start() retries the bind until it is free.
    socket.close();
  }

  /** Closes and rejects pending waiters: use on final shutdown. */
  async dispose(): Promise<void> {
    await this.close();
    for (const w of this.#waiters) {
      clearTimeout(w.timer);
      w.reject(new TbgError("ZMQ_CLOSED", "publisher closed"));
    }
    this.#waiters = [];
  }
}
