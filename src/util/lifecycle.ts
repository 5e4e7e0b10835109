/**
 * The one lifecycle every long-lived component follows:
 *
 *   const c = new Component(options);   // builds, opens nothing
 *   await c.start(signal);              // opens sockets, timers, files; cancellable through `signal`
 *   await c.close();                    // idempotent, also after a failed or cancelled start
 *
 * `start()` twice returns the same promise; `close()` twice returns the same promise. A start that is
 * cancelled (the signal aborts, or `close()` is called while it runs) rejects with START_CANCELLED.
 */
import { TbgError } from "./errors.ts";

export interface Lifecycle {
  start(signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** Start-up was cancelled (a stop signal, or close() during start). */
export class StartCancelledError extends TbgError {
  constructor(what: string) {
    super("START_CANCELLED", `${what}: start-up cancelled`);
  }
}

/** Throws START_CANCELLED when `signal` has aborted. */
export function throwIfCancelled(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new StartCancelledError(what);
}

/**
 * Waits `ms`; rejects with START_CANCELLED as soon as `signal` aborts. The timer keeps the process alive
 * (a start-up waiting for its node must not let the event loop run dry); cancelling it releases it at once.
 */
export function cancellableDelay(ms: number, signal: AbortSignal | undefined, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new StartCancelledError(what));
    const onAbort = () => {
      clearTimeout(timer);
      reject(new StartCancelledError(what));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** A signal that aborts when any of `signals` does (undefined entries are skipped). */
export function anySignal(...signals: Array<AbortSignal | undefined>): AbortSignal {
  return AbortSignal.any(signals.filter((s): s is AbortSignal => s !== undefined));
}
