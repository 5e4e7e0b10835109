/**
 * Issue 8 item 1 over real sockets: partial lines, the inbound line limit, and hostile lines (invalid
 * JSON, wrong types, missing/extra params, non-string hex, NaN/negative/huge difficulties, absurd version
 * masks, prototype keys, object ids, deep nesting). Each is answered with an error or a disconnect and
 * counted by reason; the server keeps serving a normal miner afterwards.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { setImmediate as tick } from "node:timers/promises";
import { RawClient } from "../support/stratum.ts";
import { startHardenedPool, stats, assertServesNormalMiner, closedByServer, errorsOf, USER } from "./helpers.ts";
import { waitFor } from "../support/wait.ts";

test("a handshake and a share sent in fragments (byte by byte, lines split across writes) work", async () => {
  const pool = await startHardenedPool();
  try {
    const c = await RawClient.connect(pool.port);
    const text = [
      JSON.stringify({ id: 1, method: "mining.configure", params: [["version-rolling"], { "version-rolling.mask": "1fffe000" }] }),
      JSON.stringify({ id: 2, method: "mining.subscribe", params: ["frag/1"] }),
      JSON.stringify({ id: 3, method: "mining.authorize", params: [USER, "x"] }),
    ].join("\r\n") + "\r\n";
    for (const byte of Buffer.from(text)) {
      c.writeRaw(Buffer.from([byte]));
      if (byte === 0x7d || byte === 0x0a) await tick(); // let some bytes arrive as separate reads
    }
    const sub = await c.reply(2);
    const res = sub.result as [unknown, string, number];
    c.extranonce1 = res[1];
    c.extranonce2Size = res[2];
    c.versionMask = 0x1fffe000;
    assert.equal((await c.reply(3)).result, true);
    const job = await c.waitNotify(1);
    const work = c.work(job, Buffer.alloc(c.extranonce2Size, 1), 0x2000);
    const nonce = c.findNonce(work, "share");
    const line = JSON.stringify({ id: 9, method: "mining.submit", params: c.submitParams(USER, work, nonce) }) + "\n";
    const cut = [0, 7, 8, 40, line.length - 1, line.length];
    for (let i = 0; i + 1 < cut.length; i++) {
      c.writeRaw(line.slice(cut[i], cut[i + 1]));
      await tick();
    }
    const r = await c.reply(9);
    assert.equal(r.error, null, JSON.stringify(r.error));
    assert.deepEqual(stats(pool).protocolErrors, {});
    c.close();
  } finally {
    await pool.close();
  }
});

test("hostile lines each get an error reply on a connection that stays usable, counted by kind", async () => {
  const pool = await startHardenedPool({ bans: { enabled: false } });
  try {
    const hostile: Array<[string, number | null]> = [
      ["this is not json", null], // [line, id the error must carry]
      ["{\"id\": 1, \"method\": \"mining.subscribe\"", null], // truncated JSON
      ["[1,2,3]", null],
      ["42", null],
      ['{"id": 5}', 5], // no method
      ['{"id": 6, "method": 17}', 6],
      ['{"id": 7, "method": "mining.authorize", "params": "not an array"}', 7],
      ['{"id": 8, "method": "mining.authorize", "params": [12345]}', 8],
      ['{"id": 9, "method": "mining.suggest_difficulty", "params": [-1]}', 9],
      ['{"id": 10, "method": "mining.suggest_difficulty", "params": ["NaN"]}', 10],
      ['{"id": 11, "method": "mining.suggest_difficulty", "params": [1e999]}', 11], // JSON.parse: Infinity
      ['{"id": 12, "method": "mining.suggest_difficulty", "params": [0]}', 12],
      ['{"id": 13, "method": "mining.submit", "params": ["w", "1", "00", "00"]}', 13], // missing params
      ['{"id": 14, "method": "mining.submit", "params": ["w", "1", "00", "00", "00", "00", "extra"]}', 14],
      ['{"id": 15, "method": "mining.submit", "params": ["w", "1", 12345678, "65f00000", "00000000"]}', 15], // non-string hex
      ['{"id": 16, "method": "mining.submit", "params": ["w", "1", "zz", "65f00000", "00000000"]}', 16],
      ['{"id": 17, "method": "mining.submit", "params": ["w", "1", "00", "65f000001", "00000000"]}', 17], // 9-digit ntime
      ['{"id": 18, "method": "mining.configure", "params": "x"}', 18],
      ['{"id": 19, "method": "mining.configure", "params": [["version-rolling"], {"version-rolling.mask": "fffffffff"}]}', 19], // absurd mask
      ['{"id": 20, "method": "mining.configure", "params": [["version-rolling"], {"version-rolling.mask": 4294967295}]}', 20],
      ['{"id": {"nested": [1]}, "method": "mining.authorize", "params": [[]]}', null], // object id: answered with id null
      ["[".repeat(2000) + "]".repeat(2000), null], // deep nesting within the 4 KiB line
    ];
    // Two connections: one connection's junk budget (20 lines a minute) would end the first one mid-way.
    let c = await RawClient.connect(pool.port);
    for (const [k, part] of [hostile.slice(0, 11), hostile.slice(11)].entries()) {
      if (k > 0) c = await RawClient.connect(pool.port);
      for (const [line] of part) c.writeRaw(line + "\n");
      c.writeRaw(JSON.stringify({ id: "mark", method: "mining.extranonce.subscribe", params: [] }) + "\n");
      assert.equal((await c.reply("mark")).result, true, "the connection still answers");
      const errors = errorsOf(c);
      // 19 and 20 are configure replies that refuse version rolling rather than JSON-RPC errors.
      const refusals = part.filter(([, id]) => id === 19 || id === 20).length;
      assert.equal(errors.length, part.length - refusals, JSON.stringify(errors));
      assert.ok(errors.every(([code]) => code === 20));
      for (const [line, id] of part) {
        if (id === 19 || id === 20) assert.deepEqual(c.replies.get(id)?.result, { "version-rolling": false });
        else if (id !== null) assert.ok(c.replies.get(id)?.error, `no error for ${line}`);
      }
      if (k === 0) c.close();
    }
    const s = stats(pool).protocolErrors;
    assert.equal(s.invalid_json, 2);
    assert.equal(s.not_a_request, 5); // [1,2,3], 42, no method, numeric method, deep array
    assert.equal(s.bad_params, hostile.length - 7);
    // Still a normal connection: prototype keys in configure are plain keys, and work starts.
    const conf = await c.request("mining.configure", [["__proto__", "version-rolling", "constructor"], { __proto__: { x: 1 }, "version-rolling.mask": "ffffffff" }]);
    assert.deepEqual(conf.result, JSON.parse('{"__proto__": false, "version-rolling": true, "version-rolling.mask": "1fffe000", "constructor": false}'));
    await c.handshake(USER);
    assert.equal(c.closed, false);
    c.close();
    await assertServesNormalMiner(pool);
  } finally {
    await pool.close();
  }
});

test("a line over stratum.max_line_bytes is answered and disconnected; one under the limit is served", async () => {
  const pool = await startHardenedPool({ stratum: { max_line_bytes: 512 }, bans: { enabled: false } });
  try {
    const ok = await RawClient.connect(pool.port);
    const ua = "u".repeat(400);
    const r = await ok.request("mining.subscribe", [ua]);
    assert.equal(r.error, null);
    ok.close();

    const c = await RawClient.connect(pool.port);
    c.writeRaw(JSON.stringify({ id: 1, method: "mining.subscribe", params: ["u".repeat(600)] }) + "\n");
    await closedByServer(c);
    assert.match(errorsOf(c)[0]?.[1] ?? "", /exceeds 512 bytes/);
    // No newline at all: the limit holds for a partial line too.
    const d = await RawClient.connect(pool.port);
    d.writeRaw("x".repeat(513));
    await closedByServer(d);
    await waitFor(() => stats(pool).disconnects.line_too_long === 2, "two line_too_long disconnects");
    await assertServesNormalMiner(pool);
  } finally {
    await pool.close();
  }
});

test("a connection that keeps sending junk is dropped for protocol_errors even when its IP is allow-listed", async () => {
  const pool = await startHardenedPool({ bans: { allowlist: ["127.0.0.1", "::1"] } });
  try {
    const c = await RawClient.connect(pool.port);
    for (let i = 0; i < 40; i++) c.writeRaw("GET / HTTP/1.1\r\n");
    await closedByServer(c);
    await waitFor(() => stats(pool).disconnects.protocol_errors === 1, "protocol_errors disconnect");
    assert.equal(stats(pool).bans.active, 0, "allow-listed: never banned");
    assert.ok(stats(pool).bans.allowlistedStrikesTotal > 0);
    await assertServesNormalMiner(pool);
  } finally {
    await pool.close();
  }
});
