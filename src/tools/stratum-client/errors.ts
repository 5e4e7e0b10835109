/**
 * Client-side failure modes: one subclass per mode, each with a stable `code`.
 * Stratum *rejections* are not errors here: they are answers, classified in ./reject.ts.
 */
import { TbgError } from "../../util/errors.ts";

/** TCP connect failed or timed out. */
export class ClientConnectError extends TbgError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("CLIENT_CONNECT_FAILED", message, options);
  }
}

/** A request got no answer within its timeout. */
export class ClientRequestTimeoutError extends TbgError {
  /** The JSON-RPC method that timed out. */
  readonly method: string;
  constructor(method: string, timeoutMs: number) {
    super("CLIENT_REQUEST_TIMEOUT", `${method}: no answer within ${timeoutMs} ms`);
    this.method = method;
  }
}

/** The connection closed (or was never open) while a request was outstanding. */
export class ClientConnectionClosedError extends TbgError {
  constructor(message = "connection closed", options?: { cause?: unknown }) {
    super("CLIENT_CONNECTION_CLOSED", message, options);
  }
}

/** The server sent something that is not Stratum V1 (bad JSON, wrong param types, oversized line). */
export class ClientProtocolError extends TbgError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("CLIENT_PROTOCOL", message, options);
  }
}

/** A server line exceeded the client's line limit; the connection is dropped. */
export class ClientLineTooLongError extends TbgError {
  constructor(maxLineBytes: number) {
    super("CLIENT_LINE_TOO_LONG", `server line longer than ${maxLineBytes} bytes`);
  }
}

/** mining.subscribe was refused or answered with an unusable result. */
export class ClientSubscribeError extends TbgError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("CLIENT_SUBSCRIBE_FAILED", message, options);
  }
}

/** mining.authorize answered false or with an error. */
export class ClientAuthorizeError extends TbgError {
  /** Error text the pool gave, if any. */
  readonly poolMessage: string | undefined;
  constructor(user: string, poolMessage?: string) {
    super("CLIENT_AUTHORIZE_FAILED", `authorize '${user}' refused${poolMessage ? `: ${poolMessage}` : ""}`);
    this.poolMessage = poolMessage;
  }
}

/** A stratum+tcp:// URL could not be parsed. */
export class ClientUrlError extends TbgError {
  constructor(url: string) {
    super("CLIENT_BAD_URL", `not a stratum+tcp://HOST:PORT url: '${url}'`);
  }
}
