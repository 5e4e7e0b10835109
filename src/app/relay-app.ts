/**
 * Relay wiring for the app layer (docs/relay-protocol.md). On a primary with `relay_server`: the template
 * push server, fed every template the engine adopts, submitting relays' blocks through the engine's block
 * path, with its refusals and relay blocks logged. On a relay: logs of the engine's relay state.
 */
import type { Logger } from "pino";
import type { Engine } from "../core/engine/engine.ts";
import type { PoolConfig, RelayServer as RelayServerConfig } from "../config/types.ts";
import { RelayServer } from "../core/relay/server.ts";
import type { GbtTemplate } from "../core/work/template.ts";
import { Gauge, Histogram, type Registry } from "prom-client";
import { RejectReason } from "../core/shares/reject.ts";

/**
 * Subscribes to the engine's templates now (before it starts, so the first is kept) and returns a
 * `start()` that opens the ports once the engine runs, pushing the current template to each relay.
 */
export function startRelayServer(engine: Engine, config: PoolConfig, cfg: RelayServerConfig, log: Logger, limits: { authTimeoutMs?: number; idleTimeoutMs?: number } = {}): { start(): Promise<RelayServer> } {
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
        region: config.region,
        instanceId: config.instance_id,
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

/**
 * Relay metrics (on /metrics). On a relay: template latency (primary send → receipt), primary RTT per
 * connection, stale-share percent, independent-mode flag, mode switches, fast tip switches, template gaps.
 * On a primary: relays connected, refusals by reason, templates pushed, blocks received from relays.
 */
export function registerRelayMetrics(registry: Registry, engine: Engine, config: PoolConfig, server: () => RelayServer | null): { stalePercent(): number } {
  const reg = [registry];
  const relay = () => engine.relay;
  let shares = 0;
  let stale = 0;
  const stalePercent = () => (shares === 0 ? 0 : (100 * stale) / shares);
  if (config.mode === "passthrough") {
    const latency = new Histogram({ name: "tbg_relay_template_latency_ms", help: "Primary template send → receipt on this relay, ms (includes clock skew between the hosts)", buckets: [5, 10, 25, 50, 100, 200, 500, 1000, 2000, 5000], registers: reg });
    let hooked = false;
    const hook = () => {
      if (hooked || !engine.relay) return;
      hooked = true;
      engine.relay.link.events.on("template", (t) => latency.observe(t.latencyMs));
    };
    engine.bus.on("relayState", hook);
    engine.bus.on("share", ({ verdict }) => {
      shares++;
      if (verdict.reason === RejectReason.Stale) stale++;
    });
    new Gauge({ name: "tbg_relay_primary_rtt_ms", help: "Last keepalive round trip to the primary, ms, by connection", labelNames: ["port"], registers: reg, collect() {
      const st = relay()?.status().link;
      this.reset();
      if (st?.push.lastRttMs != null) this.set({ port: "push" }, st.push.lastRttMs);
      if (st?.control.lastRttMs != null) this.set({ port: "control" }, st.control.lastRttMs);
    } });
    new Gauge({ name: "tbg_relay_independent_mode", help: "1 while this relay makes its own templates (primary unreachable), 0 while it follows the primary", registers: reg, collect() {
      this.set(relay()?.mode === "independent" ? 1 : 0);
    } });
    new Gauge({ name: "tbg_relay_stale_shares_percent", help: "Shares rejected as stale (job from a previous block), percent of all shares since start", registers: reg, collect() {
      this.set(stalePercent());
    } });
    new Gauge({ name: "tbg_relay_templates_received", help: "Templates received from the primary since start", registers: reg, collect() {
      this.set(relay()?.status().link.templatesReceived ?? 0);
    } });
    new Gauge({ name: "tbg_relay_template_gaps", help: "Templates the primary numbered that this relay never received", registers: reg, collect() {
      this.set(relay()?.status().link.templateGaps ?? 0);
    } });
    new Gauge({ name: "tbg_relay_independent_switches", help: "Times this relay went independent since start", registers: reg, collect() {
      this.set(relay()?.status().independentSwitches ?? 0);
    } });
    new Gauge({ name: "tbg_relay_fast_tip_switches", help: "Empty-block jobs sent on a new tip announced by the local node before the primary's template", registers: reg, collect() {
      this.set(relay()?.status().fastTipSwitches ?? 0);
    } });
  }
  if (config.relay_server) {
    new Gauge({ name: "tbg_relay_server_relays", help: "Authenticated relay connections, by port", labelNames: ["port"], registers: reg, collect() {
      const st = server()?.status();
      this.reset();
      for (const port of ["push", "control"]) this.set({ port }, st?.relays.filter((r) => r.port === port).length ?? 0);
    } });
    new Gauge({ name: "tbg_relay_server_refused", help: "Relay connections refused since start, by reason (auth_timeout, bad_token, protocol, not_hello, max_peers, max_pending, slow_consumer, idle)", labelNames: ["reason"], registers: reg, collect() {
      this.reset();
      for (const [reason, n] of Object.entries(server()?.status().refused ?? {})) this.set({ reason }, n);
    } });
    new Gauge({ name: "tbg_relay_server_templates_pushed", help: "Templates pushed to relays since start", registers: reg, collect() {
      this.set(server()?.status().templatesPushed ?? 0);
    } });
    new Gauge({ name: "tbg_relay_server_blocks", help: "Blocks relays submitted through this primary since start", registers: reg, collect() {
      this.set(server()?.status().blocksFromRelays ?? 0);
    } });
  }
  return { stalePercent };
}

/**
 * The `/health` `relay` block of a relay: the controller's status plus the flat fields the region monitor
 * reads (`state`, `independent`, `primary_connected`, `template_latency_ms`, `primary_rtt_ms`,
 * `stale_share_percent`).
 */
export function relayHealth(engine: Engine, stalePercent: () => number): Record<string, unknown> | null {
  const st = engine.relay?.status();
  if (!st) return null;
  return {
    ...st,
    state: st.mode,
    independent: st.independent,
    primary_connected: st.link.push.ready,
    template_latency_ms: st.link.lastTemplateLatencyMs,
    primary_rtt_ms: st.link.push.lastRttMs,
    stale_share_percent: stalePercent(),
  };
}
