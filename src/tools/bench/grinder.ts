/**
 * Off-event-loop share grinding for `tbg bench --mode valid`, on the miner's hashing slots (worker threads,
 * or chunked on the loop with threads = 0). Each unit grinds one connection's work until it finds a share
 * (or `maxHashes`), so a clean job costs at most one wasted unit. Keeping the grinding off the event loop
 * keeps the submit round trips the bench measures honest.
 */
import { InlineHasher, WorkerHasher, type Hasher } from "../miner/hashers.ts";
import type { ShareMaker } from "./share-maker.ts";

/** Options for {@link Grinder}. */
export interface GrinderOptions {
  /** Worker threads; 0 grinds on the event loop. */
  threads: number;
  /** Nonces per unit before giving up on it. */
  maxHashes: number;
  /** Makers to feed (read live: the bench appends as connections become ready). */
  makers: () => readonly ShareMaker[];
  /** True once the run is over. */
  stopped: () => boolean;
  onHashes: (n: number) => void;
  /** A unit ended without a share. */
  onGiveUp: () => void;
  onBlocksSkipped: (n: number) => void;
  onImpossible: () => void;
}

/** Background share grinder. */
export class Grinder {
  private readonly hasher: Hasher;
  private loops: Promise<void>[] = [];
  private rr = 0;
  private unitId = 1;

  constructor(private readonly opts: GrinderOptions) {
    this.hasher = opts.threads > 0 ? new WorkerHasher(opts.threads, opts.onHashes) : new InlineHasher(opts.onHashes);
  }

  async start(): Promise<void> {
    await this.hasher.start();
    for (let slot = 0; slot < this.hasher.slots; slot++) this.loops.push(this.loop(slot));
  }

  async close(): Promise<void> {
    this.hasher.abort();
    await this.hasher.close();
    await Promise.allSettled(this.loops);
  }

  /** The hungriest maker, round-robin among equals. */
  private pick(): ShareMaker | undefined {
    const makers = this.opts.makers();
    let best: ShareMaker | undefined;
    for (let i = 0; i < makers.length; i++) {
      const m = makers[(this.rr + i) % makers.length];
      if (m.hungry && (!best || m.queued < best.queued)) best = m;
      if (best && best.queued === 0) break;
    }
    this.rr++;
    return best;
  }

  private async loop(slot: number): Promise<void> {
    while (!this.opts.stopped()) {
      const maker = this.pick();
      const g = maker?.grindWork();
      if (!maker || !g || g === "impossible") {
        if (g === "impossible") this.opts.onImpossible();
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      const { work, startNonce } = g;
      const res = await this.hasher.scan(
        slot,
        {
          unitId: this.unitId++,
          generation: this.hasher.generation,
          header: work.header,
          shareTargetLE: work.shareTargetLE,
          networkTargetLE: work.networkTargetLE,
          startNonce,
          count: this.opts.maxHashes,
          stopOnBlock: false,
          stopAfterFound: 1,
        },
        (nonces) => {
          const blocks = maker.addFound(work, nonces);
          if (blocks) this.opts.onBlocksSkipped(blocks);
        },
      );
      if (res.end === "exhausted") this.opts.onGiveUp();
    }
  }
}
