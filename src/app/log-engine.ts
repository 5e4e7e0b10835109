/**
 * Turns engine bus events into log lines: one line per state change (node up/down, all nodes down),
 * per block, per new network block; protocol noise at debug level only.
 */
import type { Engine } from "../core/engine/engine.ts";
import type { Logger } from "./logger.ts";
import { errorText } from "../util/errors.ts";

/** Disconnects the server imposed on a misbehaving peer: logged at info, not debug. */
const ABUSE_CLOSE_REASONS = new Set(["line_too_long", "rate_limited", "send_queue_full", "write_timeout", "protocol_errors", "banned", "auth_timeout"]);

/** While no node answers, the "no node answers" line is repeated this often (ms). */
export const NODES_DOWN_REPEAT_MS = 30_000;

export function logEngine(engine: Engine, log: Logger): void {
  /** When the current outage began (engine clock), and when it was last said; null = some node answers. */
  let downSinceMs: number | null = null;
  let saidAtMs = 0;
  engine.bus.on("template", ({ template, newBlock, reason, fanoutMs, job }) => {
    if (downSinceMs !== null) log.info({ downForSec: Math.round((engine.now() - downSinceMs) / 1000) }, "a node answers again: work is flowing");
    downSinceMs = null; // any template means some node answers again: the next outage gets its line
    if (newBlock) {
      log.info({ height: template.height, txs: template.txCount, job: job.id, fanoutMs: Number(fanoutMs.toFixed(2)), node: template.source }, "new work: block %d", template.height);
    } else log.debug({ height: template.height, txs: template.txCount, reason, job: job.id }, "work refreshed");
  });
  engine.bus.on("newBlockNetwork", ({ height, hash, source }) => log.info({ height, hash, source }, "network block %d", height));
  engine.bus.on("authorized", (s) => log.info({ user: s.identity?.address, worker: s.identity?.worker, ip: s.ip, agent: s.userAgent, session: s.id }, "miner authorized"));
  engine.bus.on("disconnected", ({ session, reason }) => {
    const line = { session: session.id, ip: session.ip, user: session.identity?.address, reason, accepted: session.sharesAccepted, rejected: session.sharesRejected };
    if (ABUSE_CLOSE_REASONS.has(reason)) log.info(line, "connection dropped: %s", reason);
    else log.debug(line, "miner disconnected");
  });
  engine.bus.on("blockSubmitting", ({ hashHex, height }) => log.info({ hash: hashHex, height }, "BLOCK FOUND at height %d, submitting", height));
  engine.bus.on("block", (b) => {
    const line = { height: b.height, hash: b.hashHex, user: b.identity?.address, worker: b.identity?.worker, results: b.results.map((r) => `${r.node}:${r.accepted ? "accepted" : r.result}`) };
    const pending = b.pending.length > 0 ? { pending: b.pending } : {};
    if (b.outcome === "accepted") log.info({ ...line, ...pending }, "block %d accepted", b.height);
    else if (b.outcome === "lost_race") log.warn(line, "block %d lost the race: valid, but not in any node's main chain (another block at this height won)", b.height);
    else log.error(line, "block %d REJECTED by every node", b.height);
  });
  engine.bus.on("blockLateResult", ({ hashHex, height, result: r }) =>
    log.info({ height, hash: hashHex, node: r.node, latencyMs: Math.round(r.latencyMs), result: r.accepted ? "accepted" : r.result }, "block %d: %s answered after the outcome was known", height, r.node),
  );
  engine.bus.on("blockSuppressed", ({ hashHex, height, prevHash }) => log.debug({ hash: hashHex, height, prevHash }, "block candidate at height %d not submitted: the pool already has a block on this parent", height));
  engine.bus.on("nodeState", ({ status, error }) => {
    if (status.healthy) log.info({ node: status.name }, "node %s is healthy again", status.name);
    else log.warn({ node: status.name, error: errorText(error) }, "node %s is unhealthy", status.name);
  });
  // Said at once, then every NODES_DOWN_REPEAT_MS while it lasts (a pool waiting for its node at start
  // must not look hung).
  engine.bus.on("nodesDown", ({ error }) => {
    const now = engine.now();
    const working = engine.currentWork() !== null;
    const work = working ? "keeping the last work" : "no work for miners yet; retrying every second";
    const nodes = engine.status().nodeNames;
    if (downSinceMs === null) {
      downSinceMs = saidAtMs = now;
      if (working) log.error({ error: errorText(error), nodes }, "no node answered getblocktemplate: %s", work);
      else log.error({ error: errorText(error), nodes }, "no node answers yet: %s", work);
    } else if (now - saidAtMs >= NODES_DOWN_REPEAT_MS) {
      saidAtMs = now;
      const downForSec = Math.round((now - downSinceMs) / 1000);
      log.error({ error: errorText(error), nodes, downForSec }, "still no node answers after %d s: %s", downForSec, work);
    }
  });
  engine.bus.on("warning", ({ message }) => log.warn(message));
  engine.bus.on("workerBlockUnassembled", ({ hashHex, height, templateId, reason }) =>
    log.error({ hash: hashHex, height, templateId, reason }, "BLOCK LOST: block %s from a stratum worker could not be assembled: %s", hashHex, reason),
  );
  engine.bus.on("relayState", ({ state, previous, reason }) => {
    const msg = state === "independent" ? "relay is now independent: templates from the local node" : state === "passthrough" ? "relay is following the primary's templates" : "relay connecting to the primary";
    (state === "independent" ? log.warn : log.info).call(log, { relayState: state, previous, reason }, msg);
  });
  engine.bus.on("protocolError", ({ session, kind, detail }) => log.debug({ session: session.id, ip: session.ip, kind, detail }, "protocol error"));
  engine.bus.on("refused", ({ ip, reason }) => log.debug({ ip, reason }, "connection refused"));
  engine.bus.on("banned", (b) => log.warn({ ip: b.ip, key: b.key, reason: b.reason, offence: b.offence, durationSec: b.durationSec }, "banned %s for %d s (%s, offence %d)", b.key, b.durationSec, b.reason, b.offence));
  engine.bus.on("banExpired", (b) => log.info({ key: b.key, reason: b.reason, offence: b.offence }, "ban on %s expired", b.key));
}
