/**
 * Log lines for the ZMQ block notifier: one per state transition (connected, disconnected,
 * unreachable), a warning per sequence gap and per malformed message; each notification and
 * each reconnection attempt at debug level only (a down endpoint retries every few seconds).
 */
import type { ZmqBlockNotifier } from "../core/bitcoind/zmq-subscriber.ts";
import type { Logger } from "./logger.ts";
import { errorText } from "../util/errors.ts";

export function logZmqNotifier(notifier: ZmqBlockNotifier, log: Logger): void {
  const ev = notifier.events;
  log.info({ endpoints: notifier.endpoints }, "ZMQ: subscribing to hashblock on %d endpoint(s)", notifier.endpoints.length);
  ev.on("connected", ({ endpoint, reconnected }) => log.info({ endpoint, reconnected }, "ZMQ endpoint %s %s", endpoint, reconnected ? "reconnected" : "connected"));
  ev.on("disconnected", ({ endpoint }) => log.warn({ endpoint }, "ZMQ endpoint %s disconnected; reconnecting with backoff (polling covers meanwhile)", endpoint));
  ev.on("unreachable", ({ endpoint, retryMs }) => log.warn({ endpoint, retryMs }, "ZMQ endpoint %s unreachable; retrying with backoff", endpoint));
  ev.on("retry", ({ endpoint, retryMs }) => log.debug({ endpoint, retryMs }, "ZMQ endpoint %s: reconnect attempt", endpoint));
  ev.on("notification", (n) => {
    const line = { endpoint: n.endpoint, hash: n.hashHex, sequence: n.sequence, first: n.first, lagMs: n.lagMs };
    if (n.gap) log.warn({ ...line, expected: n.gap.expected, missed: n.gap.missed }, "ZMQ endpoint %s: sequence gap, %d notification(s) lost", n.endpoint, n.gap.missed);
    if (n.restarted) log.info(line, "ZMQ endpoint %s: sequence restarted at 0 (publisher restarted)", n.endpoint);
    if (n.first) log.debug(line, "ZMQ hashblock %s (first, via %s)", n.hashHex, n.endpoint);
    else log.debug({ ...line, firstEndpoint: n.firstEndpoint }, "ZMQ hashblock %s again via %s, %d ms after %s", n.hashHex, n.endpoint, n.lagMs, n.firstEndpoint);
  });
  ev.on("decodeError", ({ endpoint, frames, sizes }) => log.warn({ endpoint, frames, sizes }, "ZMQ endpoint %s: message is not a hashblock notification", endpoint));
  ev.on("failure", ({ endpoint, error }) => log.error({ endpoint, error: errorText(error) }, "ZMQ endpoint %s: %s", endpoint, errorText(error)));
}
