/**
 * The self-contained HTML pages served next to /health: one document with its CSS and script inline (no
 * CDN, no web font, no image: the page works offline and on an air-gapped pool), a Content-Security-Policy
 * that allows exactly that inline script and style (by SHA-256) and fetches to the same origin, and a
 * small client library both pages share. The script renders every value with `textContent` (never
 * `innerHTML`), so a worker name like `<script>` is text, and the CSP would refuse an injected script anyway.
 */
import { createHash } from "node:crypto";
import { UNSAFE_TEXT_SOURCE } from "../util/text.ts";
import type { RouteResponse } from "./status-server.ts";

/** A built page: the document and the CSP header that goes with it. */
export interface Page {
  html: string;
  csp: string;
}

const sha256 = (s: string) => `'sha256-${createHash("sha256").update(s, "utf8").digest("base64")}'`;

/** Shared look: light/dark by the system setting, cards and tables that reflow on a phone. */
export const PAGE_CSS = `
:root{color-scheme:light dark;--bg:#f6f7f9;--fg:#17191c;--muted:#667;--card:#fff;--line:#dde1e6;--ok:#1a7f37;--bad:#c62828;--warn:#b26a00;--accent:#f7931a}
@media (prefers-color-scheme:dark){:root{--bg:#111316;--fg:#e6e8eb;--muted:#99a;--card:#1b1e23;--line:#2c3138;--ok:#3fb950;--bad:#f85149;--warn:#d29922}}
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;padding:.8rem 1rem;border-bottom:3px solid var(--accent);background:var(--card)}
header h1{font-size:1.15rem;margin:0}header .sub{color:var(--muted)}
main{padding:1rem;display:grid;gap:1rem;grid-template-columns:repeat(auto-fit,minmax(min(100%,26rem),1fr))}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.7rem .9rem;min-width:0}
section.wide{grid-column:1/-1}h2{font-size:.95rem;margin:0 0 .5rem;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}
.stats{display:grid;gap:.6rem;grid-template-columns:repeat(auto-fit,minmax(9rem,1fr))}
.stat b{display:block;font-size:1.35rem;font-variant-numeric:tabular-nums}.stat span{color:var(--muted);font-size:.8rem}
.scroll{overflow-x:auto}table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{text-align:left;padding:.3rem .45rem;border-bottom:1px solid var(--line);white-space:nowrap;max-width:22rem;overflow:hidden;text-overflow:ellipsis}
th{color:var(--muted);font-weight:600;font-size:.8rem}td.num,th.num{text-align:right}
.badge{display:inline-block;padding:.1rem .5rem;border-radius:99px;font-weight:600;font-size:.8rem;color:#fff;background:var(--muted)}
.badge.ok{background:var(--ok)}.badge.bad{background:var(--bad)}.badge.warn{background:var(--warn)}
.empty{color:var(--muted);font-style:italic}.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85em}
footer{padding:0 1rem 1rem;color:var(--muted);font-size:.8rem}#problems{color:var(--bad)}
`;

/**
 * Client helpers shared by the pages (plain ES2020, no build): `h()` builds elements with text nodes only,
 * `clean()` replaces control and bidi characters (the same set as src/util/text.ts), formatters, `fill()`
 * renders a table body, `poll()` fetches a JSON API every `ms` and hands the document to `render`.
 */
export const CLIENT_LIB = `
"use strict";
const UNSAFE = new RegExp(${JSON.stringify(UNSAFE_TEXT_SOURCE)}, "g");
function clean(s, max) { s = String(s).replace(UNSAFE, "\\ufffd"); max = max || 128; return s.length <= max ? s : s.slice(0, max - 1) + "\\u2026"; }
function h(tag, cls) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  for (let i = 2; i < arguments.length; i++) {
    const k = arguments[i];
    if (k === null || k === undefined) continue;
    e.append(k instanceof Node ? k : document.createTextNode(clean(k, 256)));
  }
  return e;
}
function $(id) { return document.getElementById(id); }
function setText(id, v) { const e = $(id); if (e) e.textContent = clean(v, 256); }
const SI = ["", "k", "M", "G", "T", "P", "E", "Z"];
function si(n, unit) {
  if (n === null || n === undefined || !isFinite(n)) return "\\u2014";
  if (n === 0) return "0" + (unit ? " " + unit : "");
  let i = 0; let v = Math.abs(n);
  if (v < 1) return (n < 0.001 ? n.toExponential(2) : n.toPrecision(3)) + (unit ? " " + unit : "");
  while (v >= 1000 && i < SI.length - 1) { v /= 1000; i++; }
  return (Math.sign(n) * v).toFixed(v < 10 ? 2 : v < 100 ? 1 : 0) + (unit || SI[i] ? " " : "") + SI[i] + (unit || "");
}
function hashrate(hs) { return si(hs, "H/s"); }
function diff(d) { return si(d, ""); }
function int(n) { return n === null || n === undefined ? "\\u2014" : Number(n).toLocaleString("en-US"); }
function ago(iso) {
  if (!iso) return "\\u2014";
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  return s < 90 ? Math.round(s) + " s ago" : s < 5400 ? Math.round(s / 60) + " min ago" : s < 129600 ? Math.round(s / 3600) + " h ago" : Math.round(s / 86400) + " d ago";
}
function when(iso) { return iso ? new Date(iso).toISOString().replace("T", " ").slice(0, 19) + " UTC" : "\\u2014"; }
function badge(text, kind) { return h("span", "badge " + kind, text); }
function fill(id, rows, cells, emptyText) {
  const body = $(id); if (!body) return;
  const cols = body.parentElement.querySelectorAll("th").length || 1;
  const out = [];
  for (const r of rows) {
    const tr = h("tr");
    for (const c of cells(r)) {
      const num = typeof c === "object" && c !== null && !(c instanceof Node) && "num" in c;
      const v = num ? c.num : c;
      tr.append(h("td", num ? "num" : null, v));
    }
    out.push(tr);
  }
  if (out.length === 0) { const tr = h("tr"); const td = h("td", "empty", emptyText || "none yet"); td.colSpan = cols; tr.append(td); out.push(tr); }
  body.replaceChildren(...out);
}
function poll(url, ms, render) {
  let failures = 0;
  const tick = async () => {
    try {
      const res = await fetch(url, { cache: "no-store", headers: { accept: "application/json" } });
      if (!res.ok && res.status !== 503) throw new Error("HTTP " + res.status);
      render(await res.json());
      failures = 0;
      setText("updated", "updated " + new Date().toLocaleTimeString() + " \\u00b7 refreshes every " + ms / 1000 + " s");
    } catch (err) {
      failures++;
      setText("updated", "cannot reach the server (" + clean(err && err.message || err, 80) + "); retrying");
    } finally {
      setTimeout(tick, failures > 0 ? Math.min(ms * 2 ** failures, 30000) : ms);
    }
  };
  tick();
}
`;

/** One page: `body` is static markup written here (no data); `script` runs after CLIENT_LIB. */
export function buildPage(o: { title: string; body: string; script: string }): Page {
  const script = CLIENT_LIB + o.script;
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><link rel="icon" href="data:,"><title>${o.title}</title>
<style>${PAGE_CSS}</style></head>
<body>${o.body}
<script>${script}</script></body></html>
`;
  const csp = [
    "default-src 'none'",
    `script-src ${sha256(script)}`,
    `style-src ${sha256(PAGE_CSS)}`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
  return { html, csp };
}

/** The page as a route answer. */
export function pageResponse(page: Page): RouteResponse {
  return { status: 200, contentType: "text/html; charset=utf-8", body: page.html, headers: { "Content-Security-Policy": page.csp, "Referrer-Policy": "no-referrer" } };
}

/**
 * JSON for an API route: `<`, `>`, `&` and U+2028/2029 are written as \\u escapes (the document means the
 * same, but can never be sniffed or embedded as markup).
 */
export function jsonResponse(value: unknown, status = 200): RouteResponse {
  const body = JSON.stringify(value, null, 1).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return { status, contentType: "application/json; charset=utf-8", body: body + "\n" };
}
