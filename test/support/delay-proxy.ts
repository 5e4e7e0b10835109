/**
 * A userspace link between regions (this kernel has no netem): a TCP proxy that delays each direction
 * by a set number of ms (order kept) and can black-hole on demand — while black-holed it accepts
 * connections and swallows every byte in both directions (as a partitioned WAN does), without closing
 * anything. `heal()` forwards again; bytes swallowed meanwhile are gone. `retarget()` points new
 * connections elsewhere (a restarted primary).
 */
import net from "node:net";
import { once } from "node:events";

export interface DelayProxy {
  port: number;
  /** One-way delays, ms: client → target (`up`) and target → client (`down`). Change at any time. */
  delay: { up: number; down: number };
  readonly blackholed: boolean;
  blackhole(): void;
  heal(): void;
  retarget(target: { host: string; port: number }): void;
  /** Drops every connection now (a reset link). */
  dropAll(): void;
  close(): Promise<void>;
}

export async function startDelayProxy(initial: { host: string; port: number }, delay: { up: number; down: number } = { up: 0, down: 0 }): Promise<DelayProxy> {
  let target = initial;
  let holed = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.setNoDelay(true);
      s.on("error", () => undefined);
      s.on("close", () => sockets.delete(s));
    }
    const pipe = (from: net.Socket, to: net.Socket, dir: "up" | "down") => {
      // Each chunk leaves at (arrival + delay), never before the chunk ahead of it: order is kept.
      let lastDue = 0;
      from.on("data", (data: Buffer) => {
        if (holed) return;
        const due = Math.max(Date.now() + proxy.delay[dir], lastDue);
        lastDue = due;
        const send = () => {
          if (!to.destroyed && !holed) to.write(data);
        };
        const wait = due - Date.now();
        if (wait <= 0) send();
        else setTimeout(send, wait);
      });
    };
    pipe(client, upstream, "up");
    pipe(upstream, client, "down");
    const end = () => {
      if (holed) return; // a partition does not carry the close either
      client.destroy();
      upstream.destroy();
    };
    client.on("close", end);
    upstream.on("close", end);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const proxy: DelayProxy = {
    port: (server.address() as net.AddressInfo).port,
    delay: { ...delay },
    get blackholed() {
      return holed;
    },
    blackhole() {
      holed = true;
    },
    heal() {
      holed = false;
    },
    retarget(t) {
      target = t;
    },
    dropAll() {
      for (const s of sockets) s.destroy();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  return proxy;
}

/** A delay proxy in front of each of a primary's relay ports. */
export async function proxyRelayPorts(ports: { control: number; push: number }, delay?: { up: number; down: number }) {
  const control = await startDelayProxy({ host: "127.0.0.1", port: ports.control }, delay);
  const push = await startDelayProxy({ host: "127.0.0.1", port: ports.push }, delay);
  const both = [control, push];
  return {
    control,
    push,
    ports: { control: control.port, push: push.port },
    setDelay(d: { up: number; down: number }) {
      for (const p of both) p.delay = { ...d };
    },
    blackhole: () => both.forEach((p) => p.blackhole()),
    heal: () => both.forEach((p) => p.heal()),
    retarget(ports2: { control: number; push: number }) {
      control.retarget({ host: "127.0.0.1", port: ports2.control });
      push.retarget({ host: "127.0.0.1", port: ports2.push });
    },
    close: () => Promise.all(both.map((p) => p.close())),
  };
}
