import { test } from "node:test";
import assert from "node:assert/strict";
import { isIPv4, isIPv6, parseHostPort, parseIpOrCidr, parseNatsServers, parseRpcUrl, parseZmqEndpoint } from "../../src/config/address.ts";

test("host:port parses names, IPv4 and bracketed IPv6; the port is required", () => {
  assert.deepEqual(parseHostPort("localhost:8332"), { ok: true, value: { host: "localhost", port: 8332 } });
  assert.deepEqual(parseHostPort("10.12.112.4:8332"), { ok: true, value: { host: "10.12.112.4", port: 8332 } });
  assert.deepEqual(parseHostPort("[2001:db8::1]:3333"), { ok: true, value: { host: "2001:db8::1", port: 3333 } });
  assert.equal(parseHostPort("localhost").ok, false);
  assert.equal(parseHostPort("::1:3333").ok, false);
  assert.equal(parseHostPort("host:65536").ok, false);
  assert.equal(parseHostPort("host:0").ok, false);
  assert.equal(parseHostPort("host:0", { allowPortZero: true }).ok, true);
  assert.equal(parseHostPort("bad host:1").ok, false);
  assert.equal(parseHostPort(":3333").ok, false);
});

test("RPC URLs: ckpool's host:port becomes http://host:port/; explicit URLs keep their path", () => {
  assert.deepEqual(parseRpcUrl("localhost:8332"), { ok: true, value: { host: "localhost", port: 8332, rpcUrl: "http://localhost:8332/" } });
  assert.deepEqual(parseRpcUrl("https://node.example:443/"), { ok: true, value: { host: "node.example", port: 443, rpcUrl: "https://node.example/" } });
  assert.deepEqual(parseRpcUrl("http://[::1]:18443"), { ok: true, value: { host: "::1", port: 18443, rpcUrl: "http://[::1]:18443/" } });
  const noPort = parseRpcUrl("http://node.example/");
  assert.ok(!noPort.ok && /regtest 18443/.test(noPort.reason));
  assert.equal(parseRpcUrl("http://user:pw@h:1/").ok, false);
});

test("ZMQ endpoints follow Bitcoin Core's -zmqpubhashblock forms", () => {
  assert.equal(parseZmqEndpoint("tcp://127.0.0.1:28332").ok, true);
  assert.equal(parseZmqEndpoint("tcp://[::1]:28332").ok, true);
  assert.equal(parseZmqEndpoint("ipc:///tmp/zmq.sock").ok, true);
  assert.equal(parseZmqEndpoint("ipc://").ok, false);
  assert.equal(parseZmqEndpoint("127.0.0.1:28332").ok, false);
  assert.equal(parseZmqEndpoint("tcp://127.0.0.1").ok, false);
});

test("NATS server lists", () => {
  assert.deepEqual(parseNatsServers("nats://a:4222,tls://b"), { ok: true, value: ["nats://a:4222", "tls://b"] });
  assert.equal(parseNatsServers("").ok, false);
  assert.equal(parseNatsServers("nats://").ok, false);
  assert.equal(parseNatsServers("redis://a:6379").ok, false);
});

test("IPs and CIDR blocks", () => {
  assert.ok(isIPv4("192.168.0.255") && !isIPv4("256.1.1.1") && !isIPv4("01.1.1.1"));
  assert.ok(isIPv6("::1") && isIPv6("2001:db8::") && !isIPv6("2001:db8:::1") && !isIPv6("example"));
  assert.equal(parseIpOrCidr("10.0.0.0/8").ok, true);
  assert.equal(parseIpOrCidr("::/0").ok, true);
  assert.equal(parseIpOrCidr("10.0.0.0/33").ok, false);
  assert.equal(parseIpOrCidr("10.0.0.0/8/1").ok, false);
});

test("parseNatsServers errors never echo a URL's token or password", () => {
  const bad = parseNatsServers("http://s3cr3t-token@host:4222");
  assert.equal(bad.ok, false);
  assert.ok(!bad.ok && !bad.reason.includes("s3cr3t"), !bad.ok ? bad.reason : "");
  const bad2 = parseNatsServers("nats://user:hunter2@");
  assert.ok(!bad2.ok && !bad2.reason.includes("hunter2"));
});
