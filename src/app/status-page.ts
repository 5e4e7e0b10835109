/**
 * The pool's live status page (`GET /` on the health port). Static markup plus a script that polls
 * `/api/status` every 2 s and renders it with text nodes only (see src/http/page.ts). Built once.
 */
import { buildPage, type Page } from "../http/page.ts";

const body = `
<header><h1>The Bitcoin Game</h1><span class="sub" id="ident">pool</span><span id="state" class="badge">loading…</span><span id="problems"></span></header>
<main>
<section class="wide"><h2>Pool</h2><div class="stats">
 <div class="stat"><b id="hr1m">—</b><span>hashrate 1 min</span></div>
 <div class="stat"><b id="hr5m">—</b><span>hashrate 5 min</span></div>
 <div class="stat"><b id="hr1h">—</b><span>hashrate 1 h</span></div>
 <div class="stat"><b id="workers">—</b><span>workers · users · connections</span></div>
 <div class="stat"><b id="sps">—</b><span>shares / s</span></div>
 <div class="stat"><b id="shares">—</b><span>shares accepted · rejected</span></div>
 <div class="stat"><b id="blockcount">—</b><span>blocks found · accepted</span></div>
 <div class="stat"><b id="height">—</b><span>mining height · template age</span></div>
</div></section>
<section class="wide"><h2>Miners <span id="minercount"></span></h2><div class="scroll"><table><thead><tr>
 <th>worker</th><th>address</th><th>user agent</th><th class="num">difficulty</th><th class="num">1 min</th><th class="num">5 min</th><th class="num">1 h</th><th>last share</th><th class="num">best diff</th><th class="num">accepted</th><th class="num">rejected</th>
</tr></thead><tbody id="miners"></tbody></table></div></section>
<section><h2>Best difficulty · this session</h2><div class="scroll"><table><thead><tr><th>#</th><th>worker</th><th>address</th><th class="num">difficulty</th></tr></thead><tbody id="best-session"></tbody></table></div></section>
<section><h2>Best difficulty · week <span id="weekkey"></span></h2><div class="scroll"><table><thead><tr><th>#</th><th>worker</th><th>address</th><th class="num">difficulty</th><th>when</th></tr></thead><tbody id="best-week"></tbody></table></div></section>
<section><h2>Best difficulty · all time</h2><div class="scroll"><table><thead><tr><th>#</th><th>worker</th><th>address</th><th class="num">difficulty</th><th>when</th></tr></thead><tbody id="best-alltime"></tbody></table></div></section>
<section class="wide"><h2>Blocks found</h2><div class="scroll"><table><thead><tr>
 <th class="num">height</th><th>outcome</th><th>worker</th><th>address</th><th>hash</th><th class="num">share diff</th><th class="num">network diff</th><th>nodes</th><th>found</th>
</tr></thead><tbody id="blocks"></tbody></table></div></section>
<section><h2>Rejected shares</h2><table><thead><tr><th>reason</th><th class="num">shares</th></tr></thead><tbody id="rejects"></tbody></table></section>
<section><h2>Nodes</h2><div class="scroll"><table><thead><tr><th>node</th><th>state</th><th class="num">templates</th><th class="num">failures</th><th>last error</th></tr></thead><tbody id="nodes"></tbody></table></div></section>
<section><h2>ZMQ endpoints</h2><div class="scroll"><table><thead><tr><th>endpoint</th><th>state</th><th class="num">notifications</th></tr></thead><tbody id="zmq"></tbody></table></div></section>
<section><h2>Event sinks · relay</h2><div class="scroll"><table><thead><tr><th>sink</th><th>state</th><th class="num">sent</th><th class="num">queued</th></tr></thead><tbody id="sinks"></tbody></table></div>
 <p id="eventline" class="sub"></p><p id="relay" class="sub"></p></section>
</main>
<footer><span id="updated">loading…</span> · <a href="/api/status">JSON API</a> · <a href="/health">/health</a> · <a href="/metrics">/metrics</a></footer>
`;

const script = `
function render(s) {
  const p = s.pool, t = s.totals;
  document.title = "TBG pool " + clean(p.instance) + " (" + clean(p.region) + ")";
  setText("ident", p.instance + " · region " + p.region + " · " + (p.network || "?") + " · " + p.mode + " · up " + ago(p.started_at).replace(" ago", ""));
  const st = $("state"); st.textContent = p.status; st.className = "badge " + (p.status === "ok" ? "ok" : "bad");
  setText("problems", p.problems.join("; "));
  setText("hr1m", hashrate(t.hashrate_hs["1m"])); setText("hr5m", hashrate(t.hashrate_hs["5m"])); setText("hr1h", hashrate(t.hashrate_hs["1h"]));
  setText("workers", int(t.workers) + " · " + int(t.users) + " · " + int(t.connections));
  setText("sps", t.shares_per_second.toFixed(2));
  setText("shares", int(t.shares_accepted) + " · " + int(t.shares_rejected));
  setText("blockcount", int(t.blocks_found) + " · " + int(t.blocks_accepted));
  setText("height", s.template ? int(s.template.height) + " · " + Math.round(s.template.age_seconds) + " s" : "no work");
  setText("minercount", "(" + (s.miners.rows.length < s.miners.total ? s.miners.rows.length + " of " : "") + int(s.miners.total) + ")");
  fill("miners", s.miners.rows, (m) => [m.worker === null ? "(not authorised)" : m.worker || "(default)", m.address || "—", m.user_agent || "—", { num: diff(m.difficulty) },
    { num: hashrate(m.hashrate_hs["1m"]) }, { num: hashrate(m.hashrate_hs["5m"]) }, { num: hashrate(m.hashrate_hs["1h"]) }, ago(m.last_share_at),
    { num: diff(m.best_difficulty) }, { num: int(m.shares_accepted) }, { num: int(m.shares_rejected) }], "no miner connected");
  const rank = (rows, withWhen) => rows.map((r, i) => Object.assign({ rank: i + 1, withWhen }, r));
  const rec = (r) => [String(r.rank), r.worker || "(default)", r.address, { num: diff(r.difficulty) }].concat(r.withWhen ? [ago(r.at)] : []);
  setText("weekkey", s.best.week);
  fill("best-session", rank(s.best.session, false), rec, "no share yet");
  fill("best-week", rank(s.best.this_week, true), rec, "no share this week");
  fill("best-alltime", rank(s.best.all_time, true), rec, "no share yet");
  fill("blocks", s.blocks, (b) => [{ num: int(b.height) }, badge(b.accepted ? "accepted" : "rejected", b.accepted ? "ok" : "bad"), b.worker || "(default)", b.address || "—",
    h("span", "mono", b.hash.slice(0, 16) + "…"), { num: diff(b.share_difficulty) }, { num: diff(b.network_difficulty) },
    b.results.map((r) => r.node + ": " + (r.accepted ? "ok" : r.result || "rejected")).join("; "), ago(b.found_at)], "no block found since start");
  fill("rejects", Object.entries(s.rejects), (e) => [e[0], { num: int(e[1]) }], "no rejected share");
  fill("nodes", s.nodes, (n) => [n.name, badge(n.active ? "active" : n.healthy ? "healthy" : "down", n.healthy ? "ok" : "bad"), { num: int(n.templates_served) }, { num: int(n.failures) }, n.last_error || "—"], "no node");
  fill("zmq", s.zmq || [], (z) => [z.endpoint, badge(z.healthy ? "up" : "down", z.healthy ? "ok" : "bad"), { num: typeof z.messages === "number" ? int(z.messages) : "—" }], "no ZMQ endpoint configured (polling)");
  fill("sinks", s.events.sinks, (k) => [k.name, badge(k.state, k.state === "ready" ? "ok" : "warn"), { num: int(k.sent) }, { num: int(k.queued) }], s.events.enabled ? "no sink" : "events disabled");
  setText("eventline", "events emitted " + int(s.events.emitted) + ", queued " + int(s.events.queued) + ", dropped " + int(s.events.dropped));
  setText("relay", "relay: " + (s.relay === null ? "none (primary)" : JSON.stringify(s.relay)));
}
poll("/api/status", 2000, render);
`;

let built: Page | null = null;

/** The page (built on first use). */
export function poolStatusPage(): Page {
  built ??= buildPage({ title: "TBG pool status", body, script });
  return built;
}
