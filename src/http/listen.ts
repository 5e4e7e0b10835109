/**
 * The listening part every small HTTP server here shares (the pool's and collector's status server, the
 * monitor): bounded request, header and keep-alive times (a slow client cannot hold a socket open), a
 * bind failure as a ListenError naming the component, address and setting, and a close that also drops
 * kept-alive connections (scrapers and health checkers keep them).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { listenError } from "../util/ports.ts";

export interface HttpListenOptions {
  /** Who listens, for the error ("monitor HTTP"). */
  component: string;
  host: string;
  port: number;
  /** The flag or config key that changes the port ("health.port"). */
  setting: string;
  /** Errors of the server after it is bound. */
  onError?: (err: Error) => void;
}

/** Binds a server for `handler`; resolves with it and the port it got (port 0 = any free one). */
export async function listenHttp(handler: (req: IncomingMessage, res: ServerResponse) => void, o: HttpListenOptions): Promise<{ server: Server; port: number }> {
  const server = createServer(handler);
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) => reject(listenError({ component: o.component, host: o.host, port: o.port, setting: o.setting }, err)));
    server.listen(o.port, o.host, () => resolve());
  });
  server.on("error", (err) => o.onError?.(err));
  return { server, port: (server.address() as AddressInfo).port };
}

/** Stops listening and drops open connections. */
export async function closeHttp(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
