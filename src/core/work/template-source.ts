/**
 * Where templates come from: `getblocktemplate` from the first healthy node, in `btcd` order.
 * - New blocks are noticed by polling `getbestblockhash` every `blockpoll` ms (the fallback that keeps the
 *   engine correct with no ZMQ), or at once through `newBlockHint()` (ZMQ hashblock).
 * - `update_interval` refreshes the template to pick up new transactions.
 * - A node that errors or returns garbage is marked unhealthy and the next one serves; unhealthy nodes
 *   are probed in the background and preferred again, in order, once they answer.
 * - A hint naming a block the node does not serve yet is retried, not dropped: the serving node may
 *   learn of the block a little later than the ZMQ publisher that announced it (another node).
 * - Any failed call to the serving node fails over at once; a poll that hangs for `pollStallMs` counts
 *   as a failure, so a stuck node is replaced without waiting for the RPC timeout.
 * - A hung node (one that accepts connections but stops answering) holds nothing up: a template request
 *   or a poll unanswered after `hedgeMs` also goes to the next node, and the first usable answer wins.
 *   A node with a call outstanding that long is tried after the others until it answers, and while the
 *   polled node is slow the next one is polled every `blockpoll`. A fetch ends once every node without a
 *   slow call has answered; a slow node's late template on a newer parent is fetched again at once. So
 *   miners get work on a new block within about `blockpoll` + 1 s however the first node hangs.
 * - On a new block, a template still on the old parent (a backup that lacks the block) does not win
 *   while an earlier-ranked node is still answering: that node may be slow because it is connecting the
 *   block. It is kept as a fallback for when the earlier nodes fail.
 * The last good template stays in use whatever happens.
 */
import type { RpcClient } from "../bitcoind/rpc-client.ts";
import type { BlockTemplate } from "../bitcoind/rpc-types.ts";
import { TbgError, errorText } from "../../util/errors.ts";
import { StartCancelledError, cancellableDelay, throwIfCancelled } from "../../util/lifecycle.ts";

/** Defaults of {@link TemplateSourceOptions}. */
export const TEMPLATE_SOURCE_DEFAULTS = {
  /**
   * A `getbestblockhash` poll unanswered after this long marks the node failed (ms). Well above the
   * second or so bitcoind can hold cs_main while connecting a big block, so a busy node is not dropped.
   */
  pollStallMs: 2_500,
  /** How long a new-block hint is retried while the serving node does not have that block yet (ms). */
  hintRetryMs: 20_000,
  /**
   * A template request or poll unanswered after this long also goes to the next node (ms). Below a
   * second, so failover from a hung node stays within `blockpoll` + 1 s; the slow node's answer is
   * still used if it comes first.
   */
  hedgeMs: 500,
} as const;

/** The serving node did not answer a poll within `pollStallMs`. */
export class NodeStalledError extends TbgError {
  constructor(message: string) {
    super("NODE_STALLED", message);
  }
}

export interface NodeStatus {
  name: string;
  healthy: boolean;
  lastError: string | null;
  lastOkMs: number | null;
  /** Whether templates currently come from this node. */
  active: boolean;
  templatesServed: number;
  failures: number;
}

export type TemplateReason = "initial" | "new_block" | "refresh";

export interface TemplateSourceOptions {
  nodes: RpcClient[];
  /** getblocktemplate rules: ["segwit"], plus "signet" on signet. */
  rules: string[];
  /** ms between getbestblockhash polls (`blockpoll`). */
  pollMs: number;
  /** s between routine refreshes (`update_interval`). */
  updateIntervalSec: number;
  now: () => number;
  /** Adopts a template; throws when it is unusable (the node is then marked failed and the last work kept). */
  onTemplate(template: BlockTemplate, node: string, reason: TemplateReason): void;
  /**
   * Throws when a template is unusable, without adopting it. Probes use it so a node that answers
   * `getbestblockhash` but serves broken templates is not called healthy (and logged) every second.
   */
  checkTemplate?(template: BlockTemplate): void;
  onNodeState?(status: NodeStatus, error: unknown): void;
  /** A fetch failed on every node (the last good work stays in use). */
  onAllNodesFailed?(error: unknown): void;
  /** Called when polling (not a hint) noticed a new tip. */
  onPolledNewBlock?(hash: string): void;
  /** Default {@link TEMPLATE_SOURCE_DEFAULTS.pollStallMs}. */
  pollStallMs?: number;
  /** Default {@link TEMPLATE_SOURCE_DEFAULTS.hintRetryMs}. */
  hintRetryMs?: number;
  /** Default {@link TEMPLATE_SOURCE_DEFAULTS.hedgeMs}. */
  hedgeMs?: number;
}

interface NodeState extends NodeStatus {
  rpc: RpcClient;
  /** Calls to this node outstanding for more than `hedgeMs` (it is tried after the others meanwhile). */
  slowCalls: number;
}

export class TemplateSource {
  private readonly nodes: NodeState[];
  private tipHash: string | null = null;
  /** Height of the block being mined (the adopted template's `height`). */
  private tipHeight: number | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private refreshTimer: NodeJS.Timeout | null = null;
  private probeTimer: NodeJS.Timeout | null = null;
  private fetching: Promise<void> | null = null;
  private pendingReason: TemplateReason | null = null;
  private closed = false;
  /** Aborted by close(): ends the first template's retry wait at once. */
  private readonly stopped = new AbortController();
  private probing = false;
  private polling = false;
  /** The node the poll under way asks. */
  private pollNode: NodeState | null = null;
  /** A poll of another node (the polled one is slow) is under way. */
  private pollingOther = false;
  /** Bumped by every hint: an older hint's retry loop stops when a newer one arrives. */
  private hintGen = 0;
  private lastTemplateMs = 0;

  constructor(private readonly opts: TemplateSourceOptions) {
    this.nodes = opts.nodes.map((rpc, i) => ({ rpc, name: rpc.name, healthy: true, lastError: null, lastOkMs: null, active: i === 0, templatesServed: 0, failures: 0, slowCalls: 0 }));
  }

  get currentTip(): string | null {
    return this.tipHash;
  }

  get lastTemplateAtMs(): number {
    return this.lastTemplateMs;
  }

  status(): NodeStatus[] {
    return this.nodes.map((n) => this.snapshot(n));
  }

  /**
   * Fetches the first template (waits until some node answers, retrying each second), then starts the
   * timers. `signal` or close() cancels the wait (START_CANCELLED).
   */
  async start(signal?: AbortSignal): Promise<void> {
    throwIfCancelled(signal, "template source");
    const onAbort = () => void this.close();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      await this.fetch("initial");
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
    if (this.closed) throw new StartCancelledError("template source");
    this.pollTimer = setInterval(() => void this.poll(), Math.max(50, this.opts.pollMs));
    this.refreshTimer = setInterval(() => {
      if (this.opts.now() - this.lastTemplateMs >= this.opts.updateIntervalSec * 1000 - 50) void this.fetch("refresh");
    }, Math.max(200, (this.opts.updateIntervalSec * 1000) / 4));
    this.probeTimer = setInterval(() => void this.probe(), 1000);
    for (const t of [this.pollTimer, this.refreshTimer, this.probeTimer]) t.unref();
  }

  /**
   * A new block was announced (ZMQ): fetch now. When the serving node still has the old tip (it learns
   * of the block after the publisher that announced it), ask its tip again with growing pauses
   * (25 ms … 500 ms; `getbestblockhash`, not a full template) until it serves the block, a newer hint
   * arrives, or `hintRetryMs` passes. Resolves true once work is on that block.
   */
  async newBlockHint(hashHex: string): Promise<boolean> {
    if (this.fetching) await this.fetching.catch(() => undefined); // a fetch already under way may bring it
    if (hashHex === this.tipHash) return true;
    const gen = ++this.hintGen;
    const deadline = this.opts.now() + (this.opts.hintRetryMs ?? TEMPLATE_SOURCE_DEFAULTS.hintRetryMs);
    await this.fetch("new_block");
    for (let attempt = 0; !this.closed && gen === this.hintGen; attempt++) {
      if (this.tipHash === hashHex) return true;
      if (this.opts.now() >= deadline) return false;
      await delay(Math.min(25 * 2 ** attempt, 500));
      if (this.closed || gen !== this.hintGen) break;
      if (this.tipHash !== hashHex) await this.checkTip();
    }
    return this.tipHash === hashHex;
  }

  /**
   * Fetches a template now. Concurrent requests share the fetch under way, except a new block, and a
   * `fresh` request (a node just recovered: the fetch under way ordered the nodes before that), which
   * queue one more fetch after it. A new block wins over a refresh.
   */
  async fetch(reason: TemplateReason, fresh = false): Promise<void> {
    if (this.fetching) {
      if (reason !== "refresh") this.pendingReason = reason;
      else if (fresh) this.pendingReason ??= "refresh";
      return this.fetching.then(() => (this.pendingReason ? this.fetch(this.takePending()) : undefined));
    }
    this.fetching = this.doFetch(reason).finally(() => (this.fetching = null));
    return this.fetching;
  }

  private takePending(): TemplateReason {
    const r = this.pendingReason!;
    this.pendingReason = null;
    return r;
  }

  private async doFetch(reason: TemplateReason): Promise<void> {
    const hedgeMs = this.opts.hedgeMs ?? TEMPLATE_SOURCE_DEFAULTS.hedgeMs;
    const order = this.orderedNodes();
    let lastErr: unknown = null;
    // A node that answers with a template below the height being mined is behind (e.g. the first node's
    // getblocktemplate timed out while it connected a block, and a backup is one block late): skip it
    // rather than move every miner back onto an old parent (the last work stays). Only if every node
    // answered and all are lower is the behind template taken: the chain really went back (invalidateblock).
    let behind: { t: BlockTemplate; node: NodeState } | null = null;
    let failed = 0;
    const adopt = (t: BlockTemplate, node: NodeState) => {
      const newTip = t.previousblockhash !== this.tipHash;
      // Adopted first: a template the engine cannot use must neither move the tip nor count as a success.
      this.opts.onTemplate(t, node.name, newTip && reason === "refresh" ? "new_block" : reason === "new_block" && !newTip ? "refresh" : reason);
      this.markOk(node);
      this.setActive(node);
      node.templatesServed++;
      this.tipHash = t.previousblockhash;
      this.tipHeight = t.height;
      this.lastTemplateMs = this.opts.now();
    };
    // Nodes are asked in order; the next one is asked at once when one fails or is behind, and after
    // `hedgeMs` when one has not answered yet. The first usable template wins; later answers only
    // update the health of their node, except a late template on a newer parent, which starts a fetch.
    // On a new-block fetch, a template on the parent already mined (a node without the new block yet)
    // does not win while an earlier-ranked node has not answered: that node may be slow because it is
    // connecting the new block. It is kept as a fallback, taken once the earlier calls have failed.
    // Once every node without a slow call has answered and nothing usable came, the fetch ends (a hung
    // node does not hold up the work for its RPC time-out); its late answer, if usable, fetches again.
    let sameParent: { t: BlockTemplate; node: NodeState; rank: number } | null = null;
    let heldBack = false;
    const served = await new Promise<boolean>((resolve) => {
      let next = 0;
      let done = false;
      /** Calls not yet answered, by rank: whether each is past `hedgeMs`, and its hedge timer. */
      const out = new Map<number, { slow: boolean; hedge: NodeJS.Timeout | null }>();
      const finish = (ok: boolean) => {
        if (done) return;
        done = true;
        for (const c of out.values()) if (c.hedge) clearTimeout(c.hedge);
        resolve(ok);
      };
      const earlierOut = (rank: number) => [...out.keys()].some((r) => r < rank);
      /** Ends the fetch when nothing more can come in time (see above). */
      const settleIfStuck = () => {
        if (done) return;
        const fb = sameParent;
        if (fb && !earlierOut(fb.rank)) {
          try {
            adopt(fb.t, fb.node);
            return finish(true);
          } catch (err) {
            lastErr = err;
            failed++;
            this.markFailed(fb.node, err);
            sameParent = null;
          }
        }
        if (next < order.length || [...out.values()].some((c) => !c.slow)) return;
        // Only slow calls are left. A same-parent fallback behind them: the work stays on that parent
        // (if a slow call then fails, the fallback's node is asked again; see the late failure below).
        if (sameParent) {
          heldBack = true;
          return finish(true);
        }
        finish(false);
      };
      const askNext = () => {
        if (done) return;
        if (this.closed) return finish(true);
        if (next >= order.length) return settleIfStuck();
        const rank = next++;
        const node = order[rank];
        const call: { slow: boolean; hedge: NodeJS.Timeout | null } = { slow: false, hedge: null };
        out.set(rank, call);
        call.hedge = setTimeout(() => {
          call.hedge = null;
          if (!out.has(rank)) return;
          call.slow = true;
          node.slowCalls++;
          askNext();
        }, hedgeMs);
        call.hedge.unref();
        const settle = () => {
          out.delete(rank);
          if (call.hedge) clearTimeout(call.hedge);
          if (call.slow) node.slowCalls--;
        };
        node.rpc.getBlockTemplate(this.opts.rules).then(
          (t) => {
            settle();
            if (done || this.closed) {
              // A late answer: the node is alive (and, unless behind, fit to serve again). A template on a
              // newer parent than the one mined (the slow node had the new block) is fetched at once.
              if (this.closed || (this.tipHeight !== null && t.height < this.tipHeight)) return;
              this.markOk(node);
              if (t.previousblockhash !== this.tipHash) void this.fetch("new_block");
              return;
            }
            try {
              if (this.tipHeight !== null && t.height < this.tipHeight) {
                this.opts.checkTemplate?.(t);
                behind ??= { t, node };
                node.lastError = `behind: its template is for height ${t.height}, the pool mines ${this.tipHeight}`;
                return askNext();
              }
              if (reason === "new_block" && t.previousblockhash === this.tipHash && earlierOut(rank)) {
                this.opts.checkTemplate?.(t);
                this.markOk(node);
                sameParent ??= { t, node, rank };
                return askNext();
              }
              adopt(t, node);
              finish(true);
            } catch (err) {
              lastErr = err;
              failed++;
              this.markFailed(node, err);
              askNext();
            }
          },
          (err: unknown) => {
            settle();
            if (this.closed) return;
            if (done) {
              this.markFailed(node, err);
              // It held back a fallback on the parent being mined: fetch again (the others are ahead of it now).
              if (heldBack && !this.fetching) void this.fetch("refresh");
              return;
            }
            lastErr = err;
            failed++;
            this.markFailed(node, err);
            askNext();
          },
        );
      };
      askNext();
    });
    if (served || this.closed) return;
    const lagging = behind as { t: BlockTemplate; node: NodeState } | null;
    if (lagging && failed === 0 && !this.nodes.some((n) => n.slowCalls > 0)) {
      try {
        adopt(lagging.t, lagging.node);
        return;
      } catch (err) {
        lastErr = err;
        this.markFailed(lagging.node, err);
      }
    }
    this.opts.onAllNodesFailed?.(lastErr ?? new TbgError("NODES_BEHIND", `every node that answered is behind height ${this.tipHeight}`));
    if (reason === "initial" && !this.closed) {
      await cancellableDelay(1000, this.stopped.signal, "template source").catch(() => undefined);
      return this.doFetch(reason);
    }
  }

  /**
   * Healthy nodes first, in configured order; a healthy node with a call outstanding beyond `hedgeMs`
   * after the other healthy ones; then the unhealthy ones as a last resort.
   */
  private orderedNodes(): NodeState[] {
    return [...this.nodes.filter((n) => n.healthy && n.slowCalls === 0), ...this.nodes.filter((n) => n.healthy && n.slowCalls > 0), ...this.nodes.filter((n) => !n.healthy)];
  }

  private async poll(): Promise<void> {
    if (this.closed || this.fetching) return;
    if (this.polling) {
      // The node polled last has not answered: while its call is slow (past `hedgeMs`), poll the next
      // healthy node without a slow call every `blockpoll`, so a block reaching a backup is seen in time.
      const stuck = this.pollNode;
      if (!stuck || stuck.slowCalls === 0 || this.pollingOther) return;
      this.pollingOther = true;
      try {
        await this.askOthersForTip(stuck, true);
      } finally {
        this.pollingOther = false;
      }
      return;
    }
    this.polling = true;
    try {
      await this.checkTip(true);
    } finally {
      this.polling = false;
      this.pollNode = null;
    }
  }

  /**
   * Asks the serving node for its tip and fetches work when it moved (what every poll does; also used
   * after a ZMQ reconnect, when notifications may have been lost). A failure or a stall fails over at once.
   */
  async checkTip(fromPoll = false): Promise<void> {
    if (this.closed) return;
    if (this.fetching) await this.fetching.catch(() => undefined);
    const node = this.nodes.find((n) => n.active && n.healthy) ?? this.nodes.find((n) => n.healthy);
    if (!node || this.closed) return; // nothing healthy: the probe brings nodes back
    if (fromPoll) this.pollNode = node;
    const call = node.rpc.getBestBlockHash();
    // Unanswered after hedgeMs: ask the other healthy nodes too (a hung node must not hide a new block),
    // and try this one after the others until its call settles.
    let slow = false;
    const hedge = setTimeout(() => {
      if (this.closed) return;
      slow = true;
      node.slowCalls++;
      void this.askOthersForTip(node, fromPoll);
    }, this.opts.hedgeMs ?? TEMPLATE_SOURCE_DEFAULTS.hedgeMs);
    hedge.unref();
    void call.then(
      () => undefined,
      () => undefined,
    ).finally(() => {
      clearTimeout(hedge);
      if (slow) node.slowCalls--;
    });
    try {
      const best = await withStallLimit(call, this.opts.pollStallMs ?? TEMPLATE_SOURCE_DEFAULTS.pollStallMs, node.name);
      if (this.closed) return;
      this.markOk(node);
      if (best !== this.tipHash) {
        if (fromPoll) this.opts.onPolledNewBlock?.(best);
        await this.fetch("new_block");
      }
    } catch (err) {
      if (this.closed) return;
      this.markFailed(node, err);
      // Fail over now rather than at the next refresh (a fetch already under way tries the next node itself).
      await this.fetch("refresh");
    }
  }

  /** The hedge of a slow poll: another healthy node's tip; a new one is fetched at once. */
  private async askOthersForTip(slow: NodeState, fromPoll: boolean): Promise<void> {
    for (const other of this.nodes) {
      if (other === slow || !other.healthy || other.slowCalls > 0 || this.closed) continue;
      try {
        const best = await withStallLimit(other.rpc.getBestBlockHash(), this.opts.pollStallMs ?? TEMPLATE_SOURCE_DEFAULTS.pollStallMs, other.name);
        if (this.closed) return;
        this.markOk(other);
        if (best !== this.tipHash) {
          if (fromPoll) this.opts.onPolledNewBlock?.(best);
          await this.fetch("new_block");
        }
        return;
      } catch (err) {
        if (!this.closed) this.markFailed(other, err);
      }
    }
  }

  /**
   * Probes unhealthy nodes with a real template request (a node can answer getbestblockhash yet serve
   * broken templates); a recovered node that ranks at or above the active one serves again at once,
   * unless it is still behind the block being mined.
   */
  private async probe(): Promise<void> {
    if (this.probing) return; // a hung node must not pile up probes
    this.probing = true;
    try {
      const active = this.nodes.findIndex((n) => n.active);
      for (const [i, node] of this.nodes.entries()) {
        if (node.healthy || this.closed) continue;
        try {
          const t = await node.rpc.getBlockTemplate(this.opts.rules);
          this.opts.checkTemplate?.(t);
          if (this.closed) return;
          // A node back from an outage may not have caught up yet: taking over now would send miners
          // back to an old tip (clean jobs on a stale chain). It is taken back once it has caught up.
          if (this.tipHeight !== null && t.height < this.tipHeight) {
            node.lastError = `behind: its template is for height ${t.height}, the pool mines ${this.tipHeight}`;
            continue;
          }
          this.markOk(node);
          if (active === -1 || i <= active) await this.fetch("refresh", true);
        } catch (err) {
          node.lastError = errorText(err);
        }
      }
    } finally {
      this.probing = false;
    }
  }

  private markOk(node: NodeState): void {
    node.lastOkMs = this.opts.now();
    if (!node.healthy) {
      node.healthy = true;
      node.lastError = null;
      this.opts.onNodeState?.(this.snapshot(node), null);
    }
  }

  private markFailed(node: NodeState, err: unknown): void {
    node.failures++;
    node.lastError = errorText(err);
    if (node.healthy) {
      node.healthy = false;
      this.opts.onNodeState?.(this.snapshot(node), err);
    }
  }

  private setActive(node: NodeState): void {
    for (const n of this.nodes) n.active = n === node;
  }

  private snapshot(node: NodeState): NodeStatus {
    const { rpc: _rpc, slowCalls: _slow, ...s } = node;
    return { ...s };
  }

  /** Stops the timers; a fetch in flight is dropped when it answers. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    this.stopped.abort();
    for (const t of [this.pollTimer, this.refreshTimer, this.probeTimer]) if (t) clearInterval(t);
  }
}

/** Rejects with NODE_STALLED when `p` has not settled after `ms` (the call itself runs on to its own timeout). */
function withStallLimit<T>(p: Promise<T>, ms: number, node: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const stall = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new NodeStalledError(`${node}: getbestblockhash unanswered after ${ms} ms`)), ms);
  });
  p.catch(() => undefined); // a late rejection after the stall must not go unhandled
  return Promise.race([p, stall]).finally(() => clearTimeout(timer));
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
