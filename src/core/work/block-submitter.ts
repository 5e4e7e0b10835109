/**
 * A found block: assembled and sent to EVERY node in parallel. `null` counts as accepted; "duplicate" and
 * a rejection are checked with getblockheader (in the main chain, confirmations ≥ 1), since a node may
 * answer "inconclusive" or time out for a block it did take, and "duplicate" only says the node has it.
 * A submitblock that fails in transport (time-out, connection, HTTP 5xx) is sent again, up to
 * {@link SUBMIT_ATTEMPTS} times: it is idempotent (the node answers "duplicate" if it had it).
 *
 * - The outcome is known as soon as the FIRST node accepts (or when every node has answered without
 *   accepting): a hung node does not delay it. The remaining answers arrive later through `late`.
 * - Outcomes: `accepted` (some node has it in its main chain); `lost_race` (no node does, but a node
 *   answered "inconclusive" or "duplicate-inconclusive" (BIP22): valid and stored, yet not on its main
 *   chain — another block at that height won); `rejected` (every node refused it or failed). A header
 *   known off the main chain proves nothing more: Core also keeps the headers of invalid blocks.
 * - At most `maxConcurrentPerNode` submissions (submitblock + its double-check) run at once per node;
 *   more wait their turn, so a burst of candidates cannot fill the node's RPC work queue (HTTP 503).
 *   A queued submission whose parent went stale meanwhile, or still queued at shutdown, is not sent:
 *   it is answered as cancelled and counted in `cancelled`.
 */
import { coinbaseTxWithWitness } from "../bitcoin/coinbase.ts";
import { serializeBlock } from "../bitcoin/block.ts";
import type { RpcClient } from "../bitcoind/rpc-client.ts";
import type { BlockCandidate } from "./block-candidate.ts";
import { errorText } from "../../util/errors.ts";
import { RpcConnectionError, RpcHttpError, RpcTimeoutError } from "../bitcoind/errors.ts";

export interface SubmitResult {
  node: string;
  accepted: boolean;
  /** The node's answer: null (accepted), "duplicate", a rejection reason, or the error text. */
  result: string | null;
  latencyMs: number;
}

/** What became of a submitted block; see the module comment. */
export type BlockOutcome = "accepted" | "lost_race" | "rejected";

/** Default of {@link BlockSubmitterOptions.maxConcurrentPerNode}. */
export const DEFAULT_MAX_CONCURRENT_SUBMITS_PER_NODE = 2;

export interface BlockSubmitterOptions {
  nodes: RpcClient[];
  /** Submissions in flight per node at most; further ones queue. Default {@link DEFAULT_MAX_CONCURRENT_SUBMITS_PER_NODE}. */
  maxConcurrentPerNode?: number;
}

/** The outcome of one block, as soon as it is known. */
export interface SubmitOutcome {
  outcome: BlockOutcome;
  /** Answers received by the time the outcome was known (the accepting node's among them). */
  results: SubmitResult[];
  /** Nodes that had not answered yet; their results come through `late`. */
  pending: string[];
  /** Every node's result, once all have answered. */
  all: Promise<SubmitResult[]>;
}

/** The block's serialisation as submitblock takes it (hex). */
export function assembleBlockHex(c: BlockCandidate): string {
  const coinbase = c.job.template.witnessCommitmentScript ? coinbaseTxWithWitness(c.coinbase) : c.coinbase;
  return serializeBlock(c.header, coinbase, c.job.template.txDataHex as string[]);
}

/** BIP22 answers for a valid block the node stored but did not put on its main chain. */
const LOST_RACE_RESULTS = new Set(["inconclusive", "duplicate-inconclusive"]);

/** The outcome of a set of answers (see the module comment). */
export function outcomeOf(results: SubmitResult[]): BlockOutcome {
  if (results.some((r) => r.accepted)) return "accepted";
  if (results.some((r) => r.result !== null && LOST_RACE_RESULTS.has(r.result))) return "lost_race";
  return "rejected";
}

/** A counting semaphore: at most `limit` tasks at once, the rest in arrival order. */
class Gate {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly limit: number) {}

  /** Runs `task` in its turn; `waited` tells it whether it had to queue. */
  async run<T>(task: (waited: boolean) => Promise<T>): Promise<T> {
    const waited = this.active >= this.limit;
    if (waited) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await task(waited);
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

/** What a queued submission that never started answers (it is counted in {@link BlockSubmitter.cancelled}). */
export const CANCELLED_STALE = "cancelled: its parent is no longer the tip";
export const CANCELLED_SHUTDOWN = "cancelled: shutting down";

export class BlockSubmitter {
  private readonly gates = new Map<RpcClient, Gate>();
  private closing = false;
  /** Queued submissions dropped before they started: their parent went stale, or the pool shut down. */
  readonly cancelled = { stale: 0, shutdown: 0 };

  constructor(private readonly opts: BlockSubmitterOptions) {
    const limit = Math.max(1, opts.maxConcurrentPerNode ?? DEFAULT_MAX_CONCURRENT_SUBMITS_PER_NODE);
    for (const rpc of opts.nodes) this.gates.set(rpc, new Gate(limit));
  }

  /** Shutdown: submissions already sent finish; queued ones are cancelled as their turn comes (counted). */
  close(): void {
    this.closing = true;
  }

  /**
   * Sends the block to every node. Resolves when the first node accepts it, or when every node has
   * answered. `late` receives each answer that arrives after that.
   */
  submit(blockHex: string, blockHashHex: string, late?: (r: SubmitResult) => void, stale?: () => boolean): Promise<SubmitOutcome> {
    const nodes = this.opts.nodes;
    const results: SubmitResult[] = [];
    let decided = false;
    return new Promise<SubmitOutcome>((resolve) => {
      let resolveAll!: (r: SubmitResult[]) => void;
      const all = new Promise<SubmitResult[]>((r) => (resolveAll = r));
      const answered = new Set<string>();
      let left = nodes.length;
      const finish = () => {
        decided = true;
        resolve({ outcome: outcomeOf(results), results: [...results], pending: nodes.map((n) => n.name).filter((n) => !answered.has(n)), all });
      };
      if (left === 0) {
        resolveAll([]);
        finish();
        return;
      }
      for (const rpc of nodes) {
        // A submission that waited its turn is dropped (counted) if it is pointless by then.
        const task = (waited: boolean): Promise<SubmitResult> => {
          const why = !waited ? null : stale?.() ? "stale" : this.closing ? "shutdown" : null;
          if (!why) return submitOne(rpc, blockHex, blockHashHex);
          this.cancelled[why]++;
          return Promise.resolve({ node: rpc.name, accepted: false, result: why === "stale" ? CANCELLED_STALE : CANCELLED_SHUTDOWN, latencyMs: 0 });
        };
        void this.gates.get(rpc)!.run(task).then((r) => {
          results.push(r);
          answered.add(r.node);
          left--;
          if (decided) late?.(r);
          else if (r.accepted || left === 0) finish();
          if (left === 0) resolveAll([...results]);
        });
      }
    });
  }
}

/** submitblock attempts per node when the call fails in transport (time-out, connection, HTTP 5xx). */
export const SUBMIT_ATTEMPTS = 3;

/** A failure where the node may not have seen the block: worth sending again (it answers "duplicate" if it had). */
function retryable(err: unknown): boolean {
  return err instanceof RpcTimeoutError || err instanceof RpcConnectionError || (err instanceof RpcHttpError && err.status >= 500);
}

async function submitOne(rpc: RpcClient, blockHex: string, blockHashHex: string): Promise<SubmitResult> {
  const t0 = performance.now();
  let result: string | null = null;
  let accepted = false;
  for (let attempt = 1; attempt <= SUBMIT_ATTEMPTS; attempt++) {
    try {
      result = await rpc.submitBlock(blockHex);
      accepted = result === null;
      break;
    } catch (err) {
      result = errorText(err);
      if (!retryable(err) || attempt === SUBMIT_ATTEMPTS) break;
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
  if (!accepted) {
    try {
      // In the node's main chain, even if another block already extended it (a tip check would say no).
      // Also for "duplicate": the node has the block, but that says nothing about its main chain.
      if ((await rpc.getBlockHeader(blockHashHex)).confirmations >= 1) accepted = true;
      else if (result === "duplicate") result = "duplicate-inconclusive"; // stored, valid, not on its main chain
    } catch {
      if (result === "duplicate") accepted = true; // the check failed: keep the node's own word
    }
  }
  return { node: rpc.name, accepted, result, latencyMs: performance.now() - t0 };
}

/** Sends the block to every node and waits for all of them (no early outcome, no concurrency cap). */
export async function submitToAll(nodes: RpcClient[], blockHex: string, blockHashHex: string): Promise<SubmitResult[]> {
  return Promise.all(nodes.map((rpc) => submitOne(rpc, blockHex, blockHashHex)));
}
