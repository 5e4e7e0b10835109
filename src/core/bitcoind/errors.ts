/**
 * Errors of the bitcoind JSON-RPC transport, one class per failure mode.
 * Callers switch on `code`: a timeout or a refused connection means "try the next node",
 * an `RpcRemoteError` means the node answered and said no.
 */
import { TbgError } from "../../util/errors.ts";

/** The call did not complete within `timeoutMs` (connect + request + full response). */
export class RpcTimeoutError extends TbgError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("RPC_TIMEOUT", message, options);
  }
}

/** The node answered with an HTTP error status and a body that is not a JSON-RPC error (e.g. 403, 503 "work queue depth exceeded"). */
export class RpcHttpError extends TbgError {
  /** HTTP status code. */
  readonly status: number;
  constructor(status: number, message: string, options?: { cause?: unknown }) {
    super("RPC_HTTP", message, options);
    this.status = status;
  }
}

/** HTTP 401: wrong user/password, or a cookie file that is missing or stale even after re-reading it. */
export class RpcAuthError extends TbgError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("RPC_AUTH", message, options);
  }
}

/** The TCP connection failed: refused, reset, host unreachable, closed before any response. */
export class RpcConnectionError extends TbgError {
  /** The errno code from node (`ECONNREFUSED`, `ECONNRESET`, …) when there is one. */
  readonly errno: string | undefined;
  constructor(message: string, errno: string | undefined, options?: { cause?: unknown }) {
    super("RPC_CONNECT", message, options);
    this.errno = errno;
  }
}

/** The response is not a usable JSON-RPC reply: not JSON, truncated, too large, or the wrong shape. */
export class RpcResponseError extends TbgError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("RPC_BAD_RESPONSE", message, options);
  }
}

/** The node answered `{"error": {"code", "message"}}`. `rpcCode` is bitcoind's RPCErrorCode (e.g. -8, -22, -32601). */
export class RpcRemoteError extends TbgError {
  /** bitcoind's numeric RPC error code (src/rpc/protocol.h). */
  readonly rpcCode: number;
  /** The RPC method that failed. */
  readonly method: string;
  constructor(rpcCode: number, message: string, method: string) {
    super("RPC_REMOTE", message);
    this.rpcCode = rpcCode;
    this.method = method;
  }
}
