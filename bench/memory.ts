/**
 * Memory per authorized idle connection: the pool's resident set size (VmRSS from /proc/PID/status) before
 * any connection, at N/2 and at N idle miners (subscribed, authorized, holding work), after it settles.
 *   RSS delta / N            includes one-time costs (JIT, buffer pools, the first coinbases)
 *   (RSS(N) − RSS(N/2)) / (N/2)   the marginal cost of one more connection
 * The baseline is read after 12 s idle (then settled): a Node process gives back its start-up young
 * generation about 10 s after start. The pool is a child process (`tbg pool -c CONFIG`) on the bench node; each miner has its own payout
 * address by default (solo: a coinbase per user per template is part of a connection's cost).
 * Then K new blocks (default 20) in quick succession: every template stays referenced by its jobs (a
 * previous block's jobs for 120 s, a current block's for job_expiry_sec 600 s), and with it a coinbase per
 * user and a job-difficulty entry per connection. 20 templates is what 10 minutes of routine refreshes
 * (update_interval 30 s) keep alive, so "after K templates" is the steady-state cost of an idle connection.
 * Relaxed for the run: vardiff's silent-miner retarget (it would add a job per connection after 60 s).
 *
 *   node --import tsx bench/memory.ts [--connections 10000] [--txs 3000] [--users distinct|same] [--user ADDRESS]
 *                                     [--templates 20]
 *                                     [--url stratum+tcp://HOST:PORT --pool-pid PID]   (another pool)
 */
import { Swarm } from "./swarm.ts";
import { MAINNET_ADDRESS, TARGET_FLAGS, connectionsThatFit, flags, isMain, machine, mainnetAddresses, num, openTarget, report, round, runMain, table, type Target } from "./support.ts";

/** How long the pool sits idle before its baseline RSS is read. */
const IDLE_WAIT_MS = 12_000;

/** Waits until RSS changes by less than 1 % over 1 s (bounded), then returns it in KiB. */
async function settledRss(pool: Target, maxWaitMs = 15_000): Promise<number> {
  const rss = () => pool.sample()?.rssKiB ?? 0;
  const deadline = performance.now() + maxWaitMs;
  let prev = rss();
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    const cur = rss();
    if (Math.abs(cur - prev) <= prev * 0.01 || performance.now() > deadline) return cur;
    prev = cur;
  }
}

export async function main(argv: string[]): Promise<Record<string, unknown>> {
  const f = flags(argv, ["connections", "txs", "users", "user", "templates", ...TARGET_FLAGS]);
  const templates = Math.floor(num(f.templates, 20));
  if (f.url && !f["pool-pid"]) throw new Error("against another pool, --pool-pid PID is needed (its RSS is read from /proc/PID/status)");
  const wanted = Math.max(2, Math.floor(num(f.connections, 10_000)));
  const n = connectionsThatFit(wanted);
  const txs = num(f.txs, 3000) as 0 | 3000;
  if (txs !== 0 && txs !== 3000) throw new Error("--txs: 0 or 3000");
  const users = (f.users ?? "distinct") as "distinct" | "same";
  const notes = n < wanted ? [`${wanted} connections do not fit the open-file limit (ulimit -n ${n + 200}); measured ${n}`] : [];
  const pool = await openTarget(f, { txs, config: { vardiff: { retarget_interval_sec: 3600, target_share_interval_sec: 600 } } });
  const addresses = users === "distinct" && !f.user ? mainnetAddresses(n) : [];
  const user = (i: number) => `${f.user ?? (users === "distinct" ? addresses[i] : MAINNET_ADDRESS)}.m${i}`;
  const half = Math.floor(n / 2);
  const a = new Swarm({ host: pool.host, port: pool.port, connections: half, user });
  const b = new Swarm({ host: pool.host, port: pool.port, connections: n - half, user: (i) => user(half + i) });
  try {
    // Idle means settled: a Node process keeps its start-up young generation (~16 MiB) until V8's memory
    // reducer gives it back, about 10 s after start; an operator's idle pool is past that point.
    await new Promise((r) => setTimeout(r, IDLE_WAIT_MS));
    const rss0 = await settledRss(pool);
    const rampA = await a.start();
    const rssHalf = await settledRss(pool);
    const rampB = await b.start();
    const rssFull = await settledRss(pool);
    // Steady state: K more templates alive (new blocks; each fan-out given time to finish).
    let rssTemplates: number | null = null;
    if (templates > 0 && (!f.url || f["node-rpc"])) {
      for (let k = 0; k < templates; k++) {
        await pool.newBlock();
        await new Promise((r) => setTimeout(r, 100 + Math.ceil(n / 10_000) * 400));
      }
      rssTemplates = await settledRss(pool);
    }
    const ready = rampA.ready + rampB.ready;
    if (ready < n) notes.push(`only ${ready} of ${n} connections got work: ${[...rampA.errors, ...rampB.errors].join("; ")}`);
    const perConnAll = ((rssFull - rss0) * 1024) / ready;
    const perConnMarginal = ((rssFull - rssHalf) * 1024) / Math.max(1, rampB.ready);
    const row = {
      connections: ready,
      txs: pool.templateTxs,
      users,
      rssBaselineMiB: round(rss0 / 1024, 1),
      rssHalfMiB: round(rssHalf / 1024, 1),
      rssFullMiB: round(rssFull / 1024, 1),
      bytesPerConnection: Math.round(perConnAll),
      marginalBytesPerConnection: Math.round(perConnMarginal),
      /** (RSS after K more templates − RSS before) / N. */
      bytesPerConnectionAfterTemplates: rssTemplates === null ? null : Math.round(((rssTemplates - rss0) * 1024) / ready),
      templatesAlive: rssTemplates === null ? 1 : templates + 1,
      rampMs: rampA.rampMs + rampB.rampMs,
    };
    const text = [
      table(
        ["connections", "template", "users", "RSS before MiB", "RSS at N/2 MiB", "RSS at N MiB", "KiB/conn (delta/N)", "KiB/conn (marginal)", `KiB/conn with ${row.templatesAlive} templates alive`],
        [
          [
            row.connections,
            row.txs === null ? "(its node's)" : `${row.txs} tx`,
            f.user ? "one (--user)" : users,
            row.rssBaselineMiB,
            row.rssHalfMiB,
            row.rssFullMiB,
            round(row.bytesPerConnection / 1024, 2),
            round(row.marginalBytesPerConnection / 1024, 2),
            row.bytesPerConnectionAfterTemplates === null ? "n/a" : round(row.bytesPerConnectionAfterTemplates / 1024, 2),
          ],
        ],
      ),
      ...notes,
    ].join("\n");
    const poolProcess = f.url ? `external ${f.url} (pid ${f["pool-pid"]})` : "child: node bin/tbg pool -c CONFIG; RSS from /proc/PID/status";
    const result = { machine: machine(), poolProcess, ...row, notes };
    report("memory", "RSS per authorized idle connection", text, result);
    return result;
  } finally {
    await a.close();
    await b.close();
    await pool.close();
  }
}

if (isMain(import.meta.url)) runMain(main);
