/**
 * A TCP proxy that can freeze: while frozen it keeps every connection open and accepts new ones but
 * forwards nothing in either direction (bytes are held, not dropped) — what a hung process (SIGSTOP,
 * a stuck RPC thread) looks like to a client, unlike a refused or reset connection. `thaw()` delivers
 * what was held and forwards again.
 */
import net from "node:net";
import { once } from "node:events";

export interface FreezeProxy {
  port: number;
  readonly frozen: boolean;
  freeze(): void;
  thaw(): void;
  close(): Promise<void>;
}

export async function startFreezeProxy(target: { host: string; port: number }): Promise<FreezeProxy> {
  let frozen = false;
  const pairs = new Set<{ flush(): void; destroy(): void }>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    const held: Array<{ to: net.Socket; data: Buffer }> = [];
    const pipe = (from: net.Socket, to: net.Socket) =>
      from.on("data", (data: Buffer) => {
        if (frozen) held.push({ to, data });
        else to.write(data);
      });
    pipe(client, upstream);
    pipe(upstream, client);
    const pair = {
      flush() {
        for (const h of held.splice(0)) if (!h.to.destroyed) h.to.write(h.data);
      },
      destroy() {
        client.destroy();
        upstream.destroy();
      },
    };
    pairs.add(pair);
    const end = () => {
      // A close while frozen is held too: a hung process would not have answered it.
      if (frozen) return;
      pair.destroy();
      pairs.delete(pair);
    };
    client.on("close", end);
    upstream.on("close", end);
    client.on("error", () => undefined);
    upstream.on("error", () => undefined);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as net.AddressInfo).port,
    get frozen() {
      return frozen;
    },
    freeze() {
      frozen = true;
    },
    thaw() {
      frozen = false;
      for (const p of pairs) p.flush();
    },
    async close() {
      for (const p of pairs) p.destroy();
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
