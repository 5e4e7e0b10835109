/**
 * A TCP proxy that can be frozen: while frozen it accepts connections and swallows what they send, but
 * forwards nothing and answers nothing — a peer that hangs (a wedged process, a black-holed route), which
 * a client only notices by its own timeout. Thawing destroys the held connections and forwards new ones.
 */
import { createServer, connect, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

export class BlackholeProxy {
  private server: Server | null = null;
  private frozen = false;
  private readonly held = new Set<Socket>();
  private readonly piped = new Set<Socket>();
  /** Connections accepted while frozen (tests assert the probe really came). */
  heldTotal = 0;
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(port = 0): Promise<void> {
    const server = createServer((sock) => this.accept(sock));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  private accept(sock: Socket): void {
    sock.on("error", () => undefined);
    if (this.frozen) {
      this.heldTotal++;
      this.held.add(sock);
      sock.resume(); // read and drop: the client's request "arrives" but nothing comes back
      sock.once("close", () => this.held.delete(sock));
      return;
    }
    const up = connect(this.targetPort, this.targetHost);
    up.on("error", () => sock.destroy());
    sock.on("close", () => up.destroy());
    up.on("close", () => sock.destroy());
    this.piped.add(sock);
    sock.once("close", () => this.piped.delete(sock));
    sock.pipe(up);
    up.pipe(sock);
  }

  /** New connections hang; open forwarded ones are cut (a keep-alive client must not slip through). */
  freeze(): void {
    this.frozen = true;
    for (const s of this.piped) s.destroy();
  }

  /** Forward again; the hung connections are closed. */
  thaw(): void {
    this.frozen = false;
    for (const s of this.held) s.destroy();
  }

  async close(): Promise<void> {
    for (const s of [...this.held, ...this.piped]) s.destroy();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
