/**
 * The collector's platform page (`GET /` on its HTTP port): regions, the weekly best-difficulty
 * leaderboard, blocks, event throughput and lag. Polls `/api/platform` every 5 s; renders with text
 * nodes only (src/http/page.ts).
 */
import { buildPage, type Page } from "../../http/page.ts";

const body = `
<header><h1>The Bitcoin Game · platform</h1><span class="sub" id="ident">collector</span><span id="state" class="badge">loading…</span><span id="problems"></span></header>
<main>
<section class="wide"><h2>Platform</h2><div class="stats">
 <div class="stat"><b id="regioncount">—</b><span>regions</span></div>
 <div class="stat"><b id="online">—</b><span>workers online · on record</span></div>
 <div class="stat"><b id="users">—</b><span>users on record</span></div>
 <div class="stat"><b id="blockcount">—</b><span>blocks found · accepted</span></div>
 <div class="stat"><b id="eps">—</b><span>events / s stored (1 min)</span></div>
 <div class="stat"><b id="lag">—</b><span>lag of the last batch</span></div>
 <div class="stat"><b id="stored">—</b><span>events stored · duplicates</span></div>
 <div class="stat"><b id="pending">—</b><span>pending · malformed · dropped</span></div>
</div></section>
<section class="wide"><h2>Regions</h2><div class="scroll"><table><thead><tr>
 <th>region</th><th class="num">instances</th><th class="num">workers online</th><th class="num">users online</th><th class="num">hashrate (5 min)</th><th class="num">shares (5 min)</th><th>last event</th><th class="num">blocks</th>
</tr></thead><tbody id="regions"></tbody></table></div></section>
<section><h2>Best difficulty · week of <span id="weekstart"></span></h2><div class="scroll"><table><thead><tr><th>#</th><th>worker</th><th>address</th><th class="num">difficulty</th><th>when</th></tr></thead><tbody id="leaderboard"></tbody></table></div></section>
<section><h2>Blocks found</h2><div class="scroll"><table><thead><tr><th class="num">height</th><th>status</th><th>worker</th><th>address</th><th>region</th><th>hash</th><th>found</th></tr></thead><tbody id="blocks"></tbody></table></div></section>
</main>
<footer><span id="updated">loading…</span> · <a href="/api/platform">JSON API</a> · <a href="/health">/health</a> · <a href="/metrics">/metrics</a></footer>
`;

const script = `
function render(s) {
  const c = s.collector, t = s.totals, q = s.throughput;
  setText("ident", "collector " + c.region + " · " + c.database.dialect + " · up " + Math.round(c.uptime_seconds) + " s");
  const st = $("state"); st.textContent = c.database.open && !c.database.error ? "database open" : "database unavailable"; st.className = "badge " + (c.database.open && !c.database.error ? "ok" : "bad");
  setText("problems", c.database.error || "");
  setText("regioncount", int(s.regions.length));
  setText("online", int(t.workers_online) + " · " + int(t.workers));
  setText("users", int(t.users));
  setText("blockcount", int(t.blocks) + " · " + int(t.blocks_accepted));
  setText("eps", q.events_per_second === null ? "measuring…" : q.events_per_second.toFixed(1));
  setText("lag", q.lag_seconds.toFixed(2) + " s");
  setText("stored", int(q.stored) + " · " + int(q.duplicates));
  setText("pending", int(q.pending) + " · " + int(q.malformed) + " · " + int(q.dropped));
  setText("weekstart", s.leaderboard.week_start);
  fill("regions", s.regions, (r) => [r.region, { num: int(r.instances) }, { num: int(r.workers_online) }, { num: int(r.users_online) }, { num: hashrate(r.hashrate_hs) },
    { num: int(r.shares_5m) }, ago(r.last_event_at), { num: int(r.blocks) }], "no region has reported yet");
  fill("leaderboard", s.leaderboard.rows, (r) => [String(r.rank), r.worker === null ? "—" : r.worker || "(default)", r.address, { num: diff(r.difficulty) }, ago(r.achieved_at)], "no share this week");
  fill("blocks", s.blocks, (b) => [{ num: int(b.height) }, badge(b.status, b.accepted ? "ok" : "bad"), b.worker === null ? "—" : b.worker || "(default)", b.address, b.region,
    h("span", "mono", b.hash.slice(0, 16) + "…"), ago(b.found_at)], "no block found yet");
}
poll("/api/platform", 5000, render);
`;

let built: Page | null = null;

/** The page (built on first use). */
export function platformStatusPage(): Page {
  built ??= buildPage({ title: "TBG platform status", body, script });
  return built;
}
