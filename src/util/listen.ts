/**
 * One wrapping for every failure to listen on a TCP port (Stratum, /health, the collector's HTTP, the
 * embedded node's RPC and P2P): a {@link ListenError} whose code says what went wrong and whose message
 * names the listener and the address.
 */
import { TbgError, errorText, type ErrorCode } from "./errors.ts";

/** A listener could not bind. `what` names it ("stratum", "health", …), `address` is host:port. */
export class ListenError extends TbgError {
  constructor(
    readonly what: string,
    readonly address: string,
    cause: unknown,
  ) {
    super(listenCode(cause), `${what}: cannot listen on ${address}: ${errorText(cause)}`, { cause });
  }
}

/** The catalogue code for a listen failure's system error. */
export function listenCode(err: unknown): ErrorCode {
  switch ((err as NodeJS.ErrnoException | null)?.code) {
    case "EADDRINUSE":
      return "LISTEN_IN_USE";
    case "EACCES":
    case "EPERM":
      return "LISTEN_DENIED";
    case "EADDRNOTAVAIL":
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EINVAL":
      return "LISTEN_ADDRESS";
    default:
      return "LISTEN_FAILED";
  }
}

/** `host:port`, with IPv6 hosts in brackets. */
export function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
