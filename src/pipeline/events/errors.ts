/**
 * Errors of the event layer (a subclass per failure mode, stable `code`).
 * The mining path never sees these: `MiningEventEmitter.emit()` counts failures instead of throwing.
 * They are thrown at configuration / start-up time only.
 */
import { TbgError } from "../../util/errors.ts";

/** Invalid event-layer configuration (region, instance, queue sizes, unknown event type in a mask). */
export class EventsConfigError extends TbgError {
  constructor(message: string) {
    super("EVENTS_CONFIG_INVALID", message);
  }
}

/** The datagram reader could not bind its socket path (permissions, path too long, not a socket…). */
export class EventSocketBindError extends TbgError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("EVENTS_SOCKET_BIND", message, options);
  }
}

/** Another live reader is already bound to the socket path (a second collector?). */
export class EventSocketInUseError extends TbgError {
  constructor(socketPath: string) {
    super("EVENTS_SOCKET_IN_USE", `another reader is already bound to ${socketPath}`);
  }
}
