/**
 * Turns engine bus events into log lines: one line per state change (node up/down, all nodes down),
 * per block, per new network block; protocol noise at debug level only.
 */
import type { Engine } from "../engine/engine.ts";
import type { Logger } from "./logger.ts";
import { errorText } from "../util/errors.ts";

export function logEngine(engine: Engine, log: Logger): void {
  let nodesDown = false;
  engine.bus.on("template", ({ template, newBlock, reason, fanoutMs, job }) => {
    if (newBlock) {
      nodesDown = false;
      log.info({ height: template.height, txs: template.txCount, job: job.id, fanoutMs: Number(fanoutMs.toFixed(2)), node: template.source }, "new work: block %d", template.height);
    } else log.debug({ height: template.height, txs: template.txCount, reason, job: job.id }, "work refreshed");
  });
  engine.bus.on("newBlockNetwork", ({ height, hash, source }) => log.info({ height, hash, source }, "network block %d", height));
  engine.bus.on("authorized", (s) => log.info({ user: s.identity?.address, worker: s.identity?.worker, ip: s.transport.remoteAddress, agent: s.userAgent, session: s.id }, "miner authorized"));
  engine.bus.on("disconnected", ({ session, reason }) =>
    log.debug({ session: session.id, user: session.identity?.address, reason, accepted: session.sharesAccepted, rejected: session.sharesRejected }, "miner disconnected"),
  );
  engine.bus.on("blockSubmitting", ({ hashHex, height }) => log.info({ hash: hashHex, height }, "BLOCK FOUND at height %d, submitting", height));
  engine.bus.on("block", (b) => {
    const line = { height: b.height, hash: b.hashHex, user: b.identity?.address, worker: b.identity?.worker, results: b.results.map((r) => `${r.node}:${r.accepted ? "accepted" : r.result}`) };
    if (b.accepted) log.info(line, "block %d accepted", b.height);
    else log.error(line, "block %d REJECTED by every node", b.height);
  });
  engine.bus.on("nodeState", ({ status, error }) => {
    if (status.healthy) log.info({ node: status.name }, "node %s is healthy again", status.name);
    else log.warn({ node: status.name, error: errorText(error) }, "node %s is unhealthy", status.name);
  });
  engine.bus.on("nodesDown", ({ error }) => {
    if (nodesDown) return;
    nodesDown = true;
    log.error({ error: errorText(error) }, "no node answered getblocktemplate: keeping the last work");
  });
  engine.bus.on("warning", ({ message }) => log.warn(message));
  engine.bus.on("protocolError", ({ session, kind, detail }) => log.debug({ session: session.id, ip: session.transport.remoteAddress, kind, detail }, "protocol error"));
  engine.bus.on("refused", ({ ip, reason }) => log.debug({ ip, reason }, "connection refused"));
}
