/**
 * Port claims checked before anything slow starts: a port already in use is reported at once, naming
 * the component, the address and the setting (command-line flag or config key) that changes it —
 * not after a node has synced or a database has started.
 */
import net from "node:net";
import { TbgError, errorText } from "./errors.ts";

/** A TCP port a component is about to listen on. */
export interface PortClaim {
  /** What listens there, as the operator knows it: "Stratum", "health/metrics HTTP", … */
  component: string;
  host: string;
  /** 0 = any free port (never in use). */
  port: number;
  /** Where it is set: a flag (`--stratum-port`) or a config key (`serverurl[0]`). */
  setting: string;
}

/** Why a port could not be bound: another program has it, no permission, not this machine's address, or else. */
export type ListenCode = "PORT_IN_USE" | "LISTEN_DENIED" | "LISTEN_ADDRESS" | "LISTEN_FAILED";

/**
 * A port could not be bound. Every listener (Stratum, /health and /metrics, the collector's and the
 * monitor's HTTP, the embedded node's RPC) fails with this one error, built by {@link listenError}.
 */
export class ListenError extends TbgError {
  declare readonly code: ListenCode;
  constructor(code: ListenCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** The catalogue code for a bind failure's system error. */
export function listenCode(err: unknown): ListenCode {
  switch ((err as NodeJS.ErrnoException | null)?.code) {
    case "EADDRINUSE":
      return "PORT_IN_USE";
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

/** The error for a failed bind of `claim`: names the component, the address and the setting to change. */
export function listenError(claim: PortClaim, err: unknown): ListenError {
  const addr = `${claim.host.includes(":") ? `[${claim.host}]` : claim.host}:${claim.port}`;
  if ((err as NodeJS.ErrnoException | null)?.code === "EADDRINUSE") {
    return new ListenError("PORT_IN_USE", `${claim.component} cannot listen on ${addr}: the port is already in use (another program, or another tbg, has it); stop that program or choose another port with ${claim.setting}`, { cause: err });
  }
  return new ListenError(listenCode(err), `${claim.component} cannot listen on ${addr}: ${errorText(err)}; check ${claim.setting}`, { cause: err });
}

/**
 * Binds every claim (all at once, so two claims on one port clash as they would for real) and releases
 * them. Throws the {@link listenError} of the first that fails. Claims on port 0 are skipped.
 */
export async function checkPortsFree(claims: readonly PortClaim[]): Promise<void> {
  const bound: net.Server[] = [];
  try {
    for (const claim of claims) {
      if (claim.port === 0) continue;
      const server = net.createServer();
      await new Promise<void>((resolve, reject) => {
        server.once("error", (err) => reject(listenError(claim, err)));
        server.listen({ host: claim.host, port: claim.port, exclusive: true }, () => resolve());
      });
      bound.push(server);
    }
  } finally {
    await Promise.all(bound.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}
