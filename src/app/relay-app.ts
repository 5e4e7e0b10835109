/**
 * Relay wiring for the app layer (docs/relay-protocol.md). On a primary with `relay_server`: the template
 * push server, fed every template the engine adopts, submitting relays' blocks through the engine's block
 * path, with its refusals and relay blocks logged. On a relay: logs of the engine's relay state.
 */
import type { Logger } from "pino";
import type { Engine } from "../engine/engine.ts";
import type { RelayServer as RelayServerConfig } from "../config/types.ts";
import { RelayServer } from "../relay/server.ts";
import type { GbtTemplate } from "../work/template.ts";

/**
 * Subscribes to the engine's templates now (before it starts, so the first is kept) and returns a
 * `start()` that opens the ports once the engine runs, pushing the current template to each relay.
 */
export function startRelayServer(engine: Engine, cfg: RelayServerConfig, log: Logger, limits: { authTimeoutMs?: number; idleTimeoutMs?: number } = {}): { start(): Promise<RelayServer> } {
  let latest: GbtTemplate | null = null;
  let server: RelayServer | null = null;
  engine.bus.on("template", (e) => {
    latest = e.gbt;
    server?.pushTemplate(e.gbt);
  });
  return {
    async start() {
      const s = new RelayServer({
        host: cfg.host,
        port: cfg.port,
        pushPort: cfg.template_push_port,
        authToken: cfg.auth_token,
        region: engine.config.region,
        instanceId: engine.config.instance_id,
        now: engine.now,
        ...limits,
        submitBlock: async (req) => {
          const { outcome, results } = await engine.submitExternalBlock(req.blockHex, req.hashHex, `relay:${req.region}`);
          return { outcome, results };
        },
      });
      s.events.on("refused", (r) => log.warn({ relay: r.remote, port: r.port, reason: r.reason, detail: r.detail }, "relay connection refused (%s)", r.reason));
      s.events.on("authenticated", (r) => log.info({ relay: r.remote, port: r.port, region: r.region, instanceId: r.instanceId }, "relay %s connected (%s port)", r.region, r.port));
      s.events.on("peerClosed", (r) => log.warn({ relay: r.remote, port: r.port, region: r.region }, "relay %s disconnected (%s port)", r.region, r.port));
      s.events.on("relayBlock", ({ request, answer }) =>
        log.info({ region: request.region, hash: request.hashHex, height: request.height, outcome: answer.outcome }, "block from relay %s submitted to our nodes: %s", request.region, answer.outcome),
      );
      await s.start();
      server = s;
      if (latest) s.pushTemplate(latest);
      log.info({ control: `${cfg.host}:${s.ports.control}`, push: `${cfg.host}:${s.ports.push}` }, "relay server listening");
      return s;
    },
  };
}
