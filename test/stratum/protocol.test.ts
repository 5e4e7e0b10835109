/**
 * Protocol suite: the server over real TCP, driven the way real firmware drives it
 * (the handshake orders and quirks of real firmware: cgminer, BitAxe/ESP-Miner, NerdMiner, Braiins), every reject reason with its code.
 */
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startBenchPool, type BenchPool } from "../support/pool.ts";
import { RawClient } from "../support/stratum.ts";
import { MAINNET_ADDRESSES } from "../support/addresses.ts";
import { waitFor } from "../support/wait.ts";
import { scanNonces } from "../../src/tools/stratum-client/work.ts";

const USER = `${MAINNET_ADDRESSES.p2wpkh}.bitaxe`;
let pool: BenchPool;

before(async () => {
  pool = await startBenchPool({ overrides: { instance_id: 7 } });
});
after(async () => {
  await pool.close();
});

async function ready(opts: { versionMask?: string; suggest?: number } = {}) {
  const c = await RawClient.connect(pool.port);
  const job = await c.handshake(USER, opts);
  return { c, job };
}

function en2(n: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  b.writeUInt32BE(n, size - 4);
  return b;
}

describe("handshakes as real devices send them", () => {
  test("BitAxe: configure, subscribe, authorize, suggest_difficulty pipelined in one write", async () => {
    const c = await RawClient.connect(pool.port);
    c.writeRaw(
      [
        { id: 1, method: "mining.configure", params: [["version-rolling"], { "version-rolling.mask": "ffffffff" }] },
        { id: 2, method: "mining.subscribe", params: ["bitaxe/BM1370/v2.7.0"] },
        { id: 3, method: "mining.authorize", params: [USER, "x"] },
        { id: 4, method: "mining.suggest_difficulty", params: [1000] },
      ]
        .map((m) => JSON.stringify(m) + "\n")
        .join(""),
    );
    const conf = await c.reply(1);
    assert.deepEqual(conf.result, { "version-rolling": true, "version-rolling.mask": "1fffe000" });
    const sub = await c.reply(2);
    assert.equal((sub.result as unknown[])[2], 8);
    assert.equal((await c.reply(3)).result, true);
    assert.equal((await c.reply(4)).result, true);
    await c.until(() => c.difficulty === 1000, 5000, "difficulty 1000");
    const firstNotify = c.log.findIndex((m) => "method" in m && m.method === "mining.notify");
    const firstDiff = c.log.findIndex((m) => "method" in m && m.method === "mining.set_difficulty");
    assert.ok(firstDiff >= 0 && firstDiff < firstNotify, "set_difficulty precedes the first notify");
    c.close();
  });

  test("cpuminer: subscribe then authorize, 5-param submit accepted", async () => {
    const { c, job } = await ready();
    const w = c.work(job, en2(1, c.extranonce2Size));
    const r = await c.request("mining.submit", c.submitParams(USER, w, c.findNonce(w, "share")));
    assert.equal(r.result, true, JSON.stringify(r.error));
    c.close();
  });

  test("cgminer: extranonce.subscribe is answered and the session works", async () => {
    const c = await RawClient.connect(pool.port);
    await c.request("mining.subscribe", ["cgminer/4.12.0"]);
    const ex = await c.request("mining.extranonce.subscribe", []);
    assert.equal(ex.result, true);
    assert.equal((await c.request("mining.authorize", [USER, "x"])).result, true);
    await c.waitNotify(1);
    c.close();
  });

  test("NerdMiner: suggest_difficulty [0.0001] applies; the 30 s keepalive repeat is a no-op", async () => {
    const c = await RawClient.connect(pool.port);
    await c.request("mining.subscribe", ["NerdMinerV2"]);
    await c.request("mining.authorize", [USER, "x"]);
    await c.waitNotify(1);
    await c.request("mining.suggest_difficulty", [0.0001]);
    await c.until(() => c.difficulty === 0.0001, 5000, "difficulty 0.0001");
    const notifies = c.notifies().length;
    const diffs = c.notifications.filter((n) => n.method === "mining.set_difficulty").length;
    await c.request("mining.suggest_difficulty", [0.0001]);
    assert.equal(c.notifies().length, notifies, "no new job for a repeated suggestion");
    assert.equal(c.notifications.filter((n) => n.method === "mining.set_difficulty").length, diffs);
    c.close();
  });

  test("suggest_difficulty before subscribe sets the starting difficulty", async () => {
    const c = await RawClient.connect(pool.port);
    await c.request("mining.suggest_difficulty", 0.5 as unknown as unknown[]); // scalar form, not [N]
    await c.request("mining.subscribe", []);
    await c.request("mining.authorize", [USER, "x"]);
    await c.waitNotify(1);
    const first = c.notifications.find((n) => n.method === "mining.set_difficulty");
    assert.deepEqual(first?.params, [0.5]);
    c.close();
  });

  test("configure answers pool mask ∩ miner mask", async () => {
    const c = await RawClient.connect(pool.port);
    const r = await c.request("mining.configure", [["version-rolling", "minimum-difficulty", "made-up"], { "version-rolling.mask": "00ffe0ff", "minimum-difficulty.value": 0.01 }]);
    assert.deepEqual(r.result, { "version-rolling": true, "version-rolling.mask": "00ffe000", "minimum-difficulty": true, "made-up": false });
    c.close();
  });

  test("unknown method gets error 20 and the connection stays", async () => {
    const c = await RawClient.connect(pool.port);
    const r = await c.request("mining.get_transactions", []);
    assert.equal(r.error?.[0], 20);
    assert.equal((await c.request("mining.subscribe", [])).error, null);
    c.close();
  });

  test("extranonce1 is unique per connection and carries the instance id", async () => {
    const clients = await Promise.all([0, 1, 2, 3, 4].map(() => RawClient.connect(pool.port)));
    const en1s = [];
    for (const c of clients) {
      const r = await c.request("mining.subscribe", []);
      en1s.push((r.result as unknown[])[1] as string);
      c.close();
    }
    assert.equal(new Set(en1s).size, en1s.length);
    for (const e of en1s) assert.ok(e.startsWith("07"), `${e} starts with instance id 07`);
  });
});

describe("every reject reason with its conventional code", () => {
  test("submit before authorize: 24 unauthorized", async () => {
    const c = await RawClient.connect(pool.port);
    await c.request("mining.subscribe", []);
    const r = await c.request("mining.submit", [USER, "1", "0000000000000000", "00000000", "00000000"]);
    assert.equal(r.error?.[0], 24);
    c.close();
  });

  test("authorized but not subscribed: 25 not subscribed", async () => {
    const c = await RawClient.connect(pool.port);
    await c.request("mining.authorize", [USER, "x"]);
    const r = await c.request("mining.submit", [USER, "1", "0000000000000000", "00000000", "00000000"]);
    assert.equal(r.error?.[0], 25);
    c.close();
  });

  test("invalid address: not authorized, with a clear message", async () => {
    const c = await RawClient.connect(pool.port);
    await c.request("mining.subscribe", []);
    const r = await c.request("mining.authorize", ["bcrt1qs758ursh4q9z627kt3pp5yysm78ddny6txaqgw.w", "x"]);
    assert.equal(r.error?.[0], 24);
    assert.match(r.error![1], /regtest address; this pool runs on mainnet/);
    const bad = await c.request("mining.authorize", ["not-an-address", "x"]);
    assert.equal(bad.error?.[0], 24);
    c.close();
  });

  test("a second payout address on one connection is refused (its blocks would pay the first); more workers of the same address are fine", async () => {
    const { c } = await ready();
    const other = await c.request("mining.authorize", [`${MAINNET_ADDRESSES.p2tr}.w2`, "x"]);
    assert.equal(other.error?.[0], 24);
    assert.match(other.error![1], /already mines for/);
    const sameAddress = await c.request("mining.authorize", [`${MAINNET_ADDRESSES.p2wpkh}.rig2`, "x"]);
    assert.equal(sameAddress.result, true);
    const r = await c.request("mining.submit", [`${MAINNET_ADDRESSES.p2tr}.w2`, "1", "0000000000000000", "00000000", "00000000"]);
    assert.equal(r.error?.[0], 24, "the refused worker cannot submit");
    c.close();
  });

  test("malformed submit params: 20", async () => {
    const { c } = await ready();
    const r = await c.request("mining.submit", [USER, "1", "00"]);
    assert.equal(r.error?.[0], 20);
    const r2 = await c.request("mining.submit", [USER, "1", "zz", "00000000", "00000000"]);
    assert.equal(r2.error?.[0], 20);
    c.close();
  });

  test("unknown job: 21", async () => {
    const { c } = await ready();
    const r = await c.request("mining.submit", [USER, "deadbeefcafe", "0000000000000000", "00000000", "00000000"]);
    assert.equal(r.error?.[0], 21);
    assert.match(r.error![1], /job not found/i);
    c.close();
  });

  test("wrong extranonce2 length: 20", async () => {
    const { c, job } = await ready();
    const r = await c.request("mining.submit", [USER, job.jobId, "00000000", job.ntimeHex, "00000000"]);
    assert.equal(r.error?.[0], 20);
    assert.match(r.error![1], /extranonce2/i);
    c.close();
  });

  test("ntime before the job or beyond +7000 s: 20", async () => {
    const { c, job } = await ready();
    const t = parseInt(job.ntimeHex, 16);
    for (const ntime of [t - 1, t + 7001]) {
      const r = await c.request("mining.submit", [USER, job.jobId, en2(9, 8).toString("hex"), ntime.toString(16).padStart(8, "0"), "00000000"]);
      assert.equal(r.error?.[0], 20);
      assert.match(r.error![1], /ntime/i);
    }
    c.close();
  });

  test("version bits inside the mask are accepted, outside refused with 20", async () => {
    const { c, job } = await ready({ versionMask: "ffffffff" });
    const inside = c.work(job, en2(2, 8), 0x00002000);
    const ok = await c.request("mining.submit", c.submitParams(USER, inside, c.findNonce(inside, "share")));
    assert.equal(ok.result, true, JSON.stringify(ok.error));
    const r = await c.request("mining.submit", [USER, job.jobId, en2(3, 8).toString("hex"), job.ntimeHex, "00000000", "e0000000"]);
    assert.equal(r.error?.[0], 20);
    assert.match(r.error![1], /mask/i);
    c.close();
  });

  test("duplicate: same share again, even with other hex case and leading zeros, is 22", async () => {
    const { c, job } = await ready();
    const w = c.work(job, Buffer.from("00000000000000ab", "hex"));
    const nonce = c.findNonce(w, "share");
    const params = c.submitParams(USER, w, nonce);
    assert.equal((await c.request("mining.submit", params)).result, true);
    const upper = [params[0], params[1], params[2].toUpperCase(), params[3].toUpperCase(), params[4].toUpperCase()];
    const r = await c.request("mining.submit", upper);
    assert.equal(r.error?.[0], 22);
    const shortNonce = [...params];
    shortNonce[4] = nonce.toString(16); // no leading zeros
    if (shortNonce[4] !== params[4]) assert.equal((await c.request("mining.submit", shortNonce)).error?.[0], 22);
    c.close();
  });

  test("duplicate: the same work re-submitted under a refresh job's id (same template) is 22", async () => {
    const { c, job } = await ready();
    const before = c.notifies().length;
    await c.request("mining.suggest_difficulty", [0.00002]);
    await c.until(() => c.notifies().length > before, 5000, "a refresh job after the difficulty change");
    const refresh = c.lastNotify()!;
    assert.notEqual(refresh.jobId, job.jobId);
    assert.equal(refresh.prevhashStratum, job.prevhashStratum);
    // The header only depends on the template, extranonce1/2, ntime, nonce and version: use the later ntime.
    const w = c.work({ ...job, ntimeHex: refresh.ntimeHex }, en2(21, 8), 0, 0.00002);
    const params = c.submitParams(USER, w, c.findNonce(w, "share"));
    assert.equal((await c.request("mining.submit", params)).result, true);
    const again = await c.request("mining.submit", [params[0], refresh.jobId, ...params.slice(2)]);
    assert.equal(again.error?.[0], 22);
    c.close();
  });

  test("low difficulty: 23", async () => {
    const { c, job } = await ready();
    const w = c.work(job, en2(4, 8));
    const r = await c.request("mining.submit", c.submitParams(USER, w, c.findNonce(w, "low")));
    assert.equal(r.error?.[0], 23);
    c.close();
  });

  test("stale: a job from the previous block is 21 once a new block arrives", async () => {
    const { c, job } = await ready();
    await pool.bench.newBlock();
    await c.until(() => c.notifies().some((n) => n.cleanJobs && n.prevhashStratum !== job.prevhashStratum), 10_000, "new block work");
    const w = c.work(job, en2(5, 8));
    const r = await c.request("mining.submit", c.submitParams(USER, w, c.findNonce(w, "share")));
    assert.equal(r.error?.[0], 21);
    assert.match(r.error![1], /stale/i);
    c.close();
  });
});

describe("difficulty in force when the job was sent", () => {
  test("a share on the old job is judged at the old difficulty after a raise; the new job at the new one", async () => {
    const { c } = await ready();
    const oldJob = c.lastNotify()!;
    const low = c.difficulty;
    const before = c.notifies().length;
    await c.request("mining.suggest_difficulty", [1]);
    await c.until(() => c.difficulty === 1 && c.notifies().length > before, 5000, "set_difficulty 1 and a new job");
    const newJob = c.lastNotify()!;
    assert.notEqual(newJob.jobId, oldJob.jobId, "a difficulty change brings a new job id");
    // Shares meeting the old (low) difficulty but not 1 (1 in 100,000 would meet both: skipped).
    const pick = (job: typeof oldJob, n: number) => {
      const w = c.work(job, en2(n, 8), 0, low);
      for (let start = 0; start < 50_000_000; start += 4096) {
        const f = scanNonces(w, start, 4096).find((s) => s.meetsShareTarget && s.hashDifficulty < 1);
        if (f) return { w, nonce: f.nonce };
      }
      throw new Error("no share");
    };
    const a = pick(oldJob, 6);
    assert.equal((await c.request("mining.submit", c.submitParams(USER, a.w, a.nonce))).result, true, "old job, old difficulty");
    const b = pick(newJob, 7);
    const r = await c.request("mining.submit", c.submitParams(USER, b.w, b.nonce));
    assert.equal(r.error?.[0], 23, "new job is judged at the new difficulty");
    c.close();
  });
});

describe("new work", () => {
  test("a new block on the node sends clean_jobs=true work to every miner", async () => {
    const a = await ready();
    const b = await ready();
    await pool.bench.newBlock();
    for (const { c, job } of [a, b]) {
      await c.until(() => c.notifies().some((n) => n.cleanJobs && n.prevhashStratum !== job.prevhashStratum), 10_000, "clean work");
      c.close();
    }
  });

  test("polling picks up a new block within blockpoll when no ZMQ is configured", async () => {
    const { c, job } = await ready();
    const t0 = Date.now();
    await pool.bench.newBlock();
    await c.until(() => c.notifies().some((n) => n.prevhashStratum !== job.prevhashStratum), 5000, "polled block");
    assert.ok(Date.now() - t0 < 2000, `picked up in ${Date.now() - t0} ms`);
    await waitFor(() => true, "noop");
    c.close();
  });
});

describe("version mask changes", () => {
  test("a new pool mask is sent as mining.set_version_mask to rolling miners and applies at once", async () => {
    const { c, job } = await ready({ versionMask: "ffffffff" });
    const plain = await ready();
    pool.app.engine.setVersionMask(0x00ffe000);
    const n = await c.until(() => c.notifications.find((m) => m.method === "mining.set_version_mask"), 5000, "set_version_mask");
    assert.deepEqual(n.params, ["00ffe000"]);
    // Bit 28 was allowed before; now it is outside the mask.
    const r = await c.request("mining.submit", [USER, job.jobId, en2(11, 8).toString("hex"), job.ntimeHex, "00000000", "10000000"]);
    assert.equal(r.error?.[0], 20);
    assert.equal(plain.c.notifications.some((m) => m.method === "mining.set_version_mask"), false, "non-rolling miners are not told");
    pool.app.engine.setVersionMask(0x1fffe000);
    c.close();
    plain.c.close();
  });
});
