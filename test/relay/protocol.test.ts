import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DEFAULT_MAX_FRAME_BYTES, encodeFrame, type Frame, FrameDecoder, FrameType, HEADER_BYTES, PROTOCOL_VERSION, RelayProtocolError } from "../../src/core/relay/protocol.ts";

const TEMPLATE = { templateSeq: 7, template: { height: 101, previousblockhash: "ab".repeat(32), transactions: Array.from({ length: 50 }, (_, i) => ({ txid: i.toString(16).padStart(64, "0"), data: "00".repeat(200) })) } };

test("a template frame round-trips compressed, with seq and send time", () => {
  const buf = encodeFrame(FrameType.Template, 42, TEMPLATE, 1_700_000_000_123.5);
  assert.equal(buf.readUInt8(0), PROTOCOL_VERSION);
  const frames = new FrameDecoder().push(buf);
  assert.equal(frames.length, 1);
  const f = frames[0]!;
  assert.equal(f.type, FrameType.Template);
  assert.equal(f.seq, 42);
  assert.equal(f.sendTimeMs, 1_700_000_000_123.5);
  assert.equal(f.compressed, true);
  assert.ok(f.wireBytes < JSON.stringify(TEMPLATE).length / 5, `compressed ${f.wireBytes} bytes`);
  assert.deepEqual(f.body, TEMPLATE);
});

test("small frames are sent uncompressed", () => {
  const f = new FrameDecoder().push(encodeFrame(FrameType.Ping, 1, { id: 3 }))[0]!;
  assert.equal(f.compressed, false);
  assert.deepEqual(f.body, { id: 3 });
});

test("the same frames come out whatever the TCP split", () => {
  const stream = Buffer.concat([encodeFrame(FrameType.Hello, 1, { token: "t" }, 1), encodeFrame(FrameType.Template, 2, TEMPLATE, 2), encodeFrame(FrameType.Ping, 3, { id: 1 }, 3)]);
  const bytewise = new FrameDecoder();
  const got: Frame[] = [];
  for (const b of stream) got.push(...bytewise.push(Buffer.from([b])));
  assert.deepEqual(got.map((f) => f.seq), [1, 2, 3]);
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 10 }), (cuts) => {
      const d = new FrameDecoder();
      const out: Frame[] = [];
      let prev = 0;
      for (const p of [...[...new Set(cuts)].sort((a, b) => a - b), stream.length]) {
        out.push(...d.push(stream.subarray(prev, p)));
        prev = p;
      }
      assert.deepEqual(out.map((f) => [f.type, f.seq, f.body]), got.map((f) => [f.type, f.seq, f.body]));
      assert.equal(d.pendingBytes, 0);
    }),
    { numRuns: 200 },
  );
});

test("an oversized frame is refused from its header, before the payload is buffered", () => {
  const head = Buffer.alloc(HEADER_BYTES);
  head.writeUInt8(PROTOCOL_VERSION, 0);
  head.writeUInt8(FrameType.Template, 1);
  head.writeUInt32BE(DEFAULT_MAX_FRAME_BYTES + 1, 4);
  assert.throws(() => new FrameDecoder().push(head), { code: "RELAY_FRAME_TOO_LARGE" });
  const small = new FrameDecoder(1000);
  assert.throws(() => small.push(encodeFrame(FrameType.Template, 1, { pad: "x".repeat(5000) })), (err: unknown) => err instanceof RelayProtocolError && err.code === "RELAY_FRAME_TOO_LARGE");
});

test("a compression bomb is refused at the limit", () => {
  // 4 MB of zeros deflate to a few KB: within the wire limit, far beyond the inflate limit.
  const buf = encodeFrame(FrameType.Template, 1, { pad: "0".repeat(4_000_000) });
  assert.ok(buf.length < 10_000);
  assert.throws(() => new FrameDecoder(100_000).push(buf), { code: "RELAY_FRAME_TOO_LARGE" });
});

test("garbage is refused with a code naming the problem, and the decoder stays failed", () => {
  assert.throws(() => new FrameDecoder().push(Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n")), { code: "RELAY_VERSION" });
  const badType = encodeFrame(FrameType.Ping, 1, { id: 1 });
  badType.writeUInt8(99, 1);
  assert.throws(() => new FrameDecoder().push(badType), { code: "RELAY_FRAME_TYPE" });
  const notJson = encodeFrame(FrameType.Ping, 1, { id: 1 });
  notJson.write("{{{{", HEADER_BYTES);
  const d = new FrameDecoder();
  assert.throws(() => d.push(notJson), { code: "RELAY_BAD_PAYLOAD" });
  assert.throws(() => d.push(encodeFrame(FrameType.Ping, 2, { id: 2 })), { code: "RELAY_PROTOCOL_CLOSED" });
  const arr = Buffer.concat([encodeFrame(FrameType.Ping, 1, {}).subarray(0, HEADER_BYTES), Buffer.from("[1]")]);
  arr.writeUInt32BE(3, 4);
  assert.throws(() => new FrameDecoder().push(arr), { code: "RELAY_BAD_PAYLOAD" });
  const badDeflate = encodeFrame(FrameType.Ping, 1, { id: 1 });
  badDeflate.writeUInt8(1, 2);
  assert.throws(() => new FrameDecoder().push(badDeflate), { code: "RELAY_BAD_PAYLOAD" });
});

test("random bytes never crash the decoder: frames or a RelayProtocolError", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      try {
        new FrameDecoder(1 << 16).push(Buffer.from(bytes));
      } catch (err) {
        assert.ok(err instanceof RelayProtocolError, String(err));
      }
    }),
    { numRuns: 500 },
  );
});
