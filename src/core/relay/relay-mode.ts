/**
 * A relay's template authority (`mode: "passthrough"`): which templates the engine mines on.
 *
 * - `passthrough`: the primary's pushed templates (src/relay/link.ts). The local node's templates are
 *   fetched as usual (so independent mode can start at once) but not used — except for the **fast tip
 *   switch**: when the local node serves a template on a newer block than the current work (its ZMQ
 *   announced the block before the primary's template arrived), miners get an empty-block job on the
 *   new tip at once; the primary's full template replaces it when it comes.
 * - `independent`: nothing heard from the primary for `failoverThresholdMs`: the local node's templates
 *   are used. The next template pushed by the primary returns the relay to passthrough.
 * - `connecting`: start-up, before either (the engine waits; after the threshold it goes independent).
 *
 * Found blocks go to the local node and to the primary at once; the first acceptance decides
 * ({@link RelayController.submitBlock}).
 */
import type { GbtTemplate } from "../work/template.ts";
import type { TemplateReason } from "../work/template-source.ts";
import { outcomeOf, type BlockSubmitter, type SubmitOutcome, type SubmitResult } from "../work/block-submitter.ts";
import { errorText } from "../../util/errors.ts";
import type { SlimBlock } from "../work/slim-template.ts";
import { PrimarySubmitError, type PrimaryLink, type PrimaryLinkStatus, type PrimaryTemplate } from "./link.ts";

export type RelayMode = "connecting" | "passthrough" | "independent";

export interface RelayControllerOptions {
  link: PrimaryLink;
  /** Name of the primary in submit results and logs. */
  primaryName: string;
  failoverThresholdMs: number;
  /** Pause between reconnect attempts while the primary is silent (ms). */
  reconnectIntervalMs: number;
  now: () => number;
  /** Makes a template the current work (throws when it is unusable). */
  adopt(gbt: GbtTemplate, source: string, reason: TemplateReason): void;
  /** The current work's height and previous block, null before the first. */
  current(): { height: number; prevhashHex: string } | null;
  onState(state: RelayMode, previous: RelayMode | null, reason: string): void;
  onWarning(message: string): void;
  /** Default 200 ms. */
  checkIntervalMs?: number;
  /**
   * Adopt every primary template, also one at a lower height than the current work (a Stratum worker
   * process: its primary is the only source, so a lower height is a reorg to follow, not a primary behind).
   */
  alwaysFollowPrimary?: boolean;
  /**
   * A block the control connection could not take (PRIMARY_UNREACHABLE: down, reconnecting) is sent
   * again every {@link SUBMIT_RETRY_INTERVAL_MS} for up to this long (ms) instead of failing at once (a
   * Stratum worker process: the primary is its only way to the network). Default 0: one attempt.
   */
  submitRetryForMs?: number;
}

/** Pause between attempts to hand a block to an unreachable primary (ms). */
export const SUBMIT_RETRY_INTERVAL_MS = 200;

export interface RelayStatus {
  mode: RelayMode;
  independent: boolean;
  sinceMs: number;
  link: PrimaryLinkStatus;
  primaryTemplatesAdopted: number;
  /** Primary templates not used: on an older block than the current work. */
  primaryTemplatesBehind: number;
  fastTipSwitches: number;
  independentSwitches: number;
  /** Template latency samples (primary send → receipt), ms: last, and over the last 100 median / max. */
  templateLatencyMs: { last: number | null; p50: number | null; max: number | null };
  blocksToPrimary: { accepted: number; failed: number };
}

const RESULTS_KEPT = 100;

/** Empty-block version of a template: no transactions, subsidy only (the fees left with them). */
export function emptyBlockTemplate(gbt: GbtTemplate): GbtTemplate {
  const fees = gbt.transactions.reduce((s, t) => s + BigInt(Math.trunc(t.fee ?? 0)), 0n);
  const value = BigInt(gbt.coinbasevalue) - fees;
  // No witness transactions: the coinbase needs no witness commitment.
  const { default_witness_commitment: _drop, ...rest } = gbt;
  return { ...rest, transactions: [], coinbasevalue: value < 0n ? 0n : value };
}

export class RelayController {
  private state: RelayMode = "connecting";
  private stateSinceMs: number;
  private timer: NodeJS.Timeout | null = null;
  private lastLocal: { gbt: GbtTemplate; node: string } | null = null;
  private lastPrimaryTemplateMs: number | null = null;
  private lastResetMs = 0;
  private closed = false;
  private readonly startedMs: number;
  private firstWork: { promise: Promise<void>; resolve: () => void };
  private readonly latencies: number[] = [];
  private readonly counters = { primaryTemplatesAdopted: 0, primaryTemplatesBehind: 0, fastTipSwitches: 0, independentSwitches: 0, blocksToPrimaryAccepted: 0, blocksToPrimaryFailed: 0 };

  /** The link to the primary (its events: templates, RTT samples). */
  get link(): PrimaryLink {
    return this.opts.link;
  }

  constructor(private readonly opts: RelayControllerOptions) {
    this.startedMs = opts.now();
    this.stateSinceMs = this.startedMs;
    let resolve!: () => void;
    this.firstWork = { promise: new Promise<void>((r) => (resolve = r)), resolve };
    opts.link.events.on("template", (t) => this.onPrimaryTemplate(t));
  }

  get mode(): RelayMode {
    return this.state;
  }

  /** Connects to the primary and starts the contact check. */
  start(): void {
    this.opts.onState("connecting", null, "starting");
    this.opts.link.start();
    this.timer = setInterval(() => this.check(), this.opts.checkIntervalMs ?? 200);
    this.timer.unref();
  }

  /** Resolves once there is work (the primary's first template, or independent mode after the threshold). */
  firstWorkReady(): Promise<void> {
    return this.firstWork.promise;
  }

  /** A template from the local node (TemplateSource). Throws when adopted and unusable. */
  onLocalTemplate(gbt: GbtTemplate, node: string, reason: TemplateReason): void {
    this.lastLocal = { gbt, node };
    if (this.state === "independent") {
      this.opts.adopt(gbt, node, reason);
      this.firstWork.resolve();
      return;
    }
    const cur = this.opts.current();
    if (this.state === "passthrough" && cur && gbt.height > cur.height && gbt.previousblockhash.toLowerCase() !== cur.prevhashHex) {
      // Fast tip switch: the local node has a block the primary's templates do not build on yet.
      this.opts.adopt(emptyBlockTemplate(gbt), `${node} (fast tip, empty block)`, "new_block");
      this.counters.fastTipSwitches++;
    }
  }

  private onPrimaryTemplate(t: PrimaryTemplate): void {
    this.latencies.push(t.latencyMs);
    if (this.latencies.length > RESULTS_KEPT) this.latencies.shift();
    this.lastPrimaryTemplateMs = this.opts.now();
    const gbt = t.template as unknown as GbtTemplate;
    const cur = this.opts.current();
    if (!this.opts.alwaysFollowPrimary && cur && typeof gbt.height === "number" && gbt.height < cur.height) {
      // The primary is behind this relay's current work (its node has not seen the new block yet).
      this.counters.primaryTemplatesBehind++;
      if (this.state === "connecting") this.setState("passthrough", "primary_connected");
      return;
    }
    const reason: TemplateReason = !cur ? "initial" : String(gbt.previousblockhash).toLowerCase() !== cur.prevhashHex ? "new_block" : "refresh";
    try {
      this.opts.adopt(gbt, this.opts.primaryName, reason);
    } catch (err) {
      this.opts.onWarning(`template #${t.templateSeq} from the primary is unusable (${errorText(err)}); keeping the current work`);
      return;
    }
    this.counters.primaryTemplatesAdopted++;
    if (this.state !== "passthrough") this.setState("passthrough", this.state === "independent" ? "primary_restored" : "primary_connected");
    this.firstWork.resolve();
  }

  private check(): void {
    const now = this.opts.now();
    const link = this.opts.link;
    const contact = link.lastContactMs ?? this.startedMs;
    const silentMs = now - contact;
    const threshold = this.opts.failoverThresholdMs;
    if (this.state !== "independent" && silentMs >= threshold) {
      this.opts.onWarning(`no contact with the primary for ${Math.round(silentMs)} ms: making templates from the local node`);
      this.setState("independent", this.state === "connecting" ? "primary_unreachable_at_start" : "primary_unreachable");
      this.counters.independentSwitches++;
      link.reset("primary silent");
      this.lastResetMs = now;
      if (this.lastLocal) {
        const cur = this.opts.current();
        const reason: TemplateReason = !cur ? "initial" : this.lastLocal.gbt.previousblockhash.toLowerCase() !== cur.prevhashHex ? "new_block" : "refresh";
        try {
          this.opts.adopt(this.lastLocal.gbt, this.lastLocal.node, reason);
          this.firstWork.resolve();
        } catch (err) {
          this.opts.onWarning(`local template unusable: ${errorText(err)}`);
        }
      }
      return;
    }
    // Silent but the TCP connection looks alive (a black-holed path): start over so the primary's
    // current template comes with the next Welcome.
    if (silentMs >= threshold && now - this.lastResetMs >= Math.max(threshold, this.opts.reconnectIntervalMs)) {
      link.reset("primary silent");
      this.lastResetMs = now;
    }
  }

  private setState(state: RelayMode, reason: string): void {
    const previous = this.state;
    if (previous === state) return;
    this.state = state;
    this.stateSinceMs = this.opts.now();
    this.opts.onState(state, previous, reason);
  }

  /**
   * Dual submission: the local node(s) and the primary at once. The outcome is known at the first
   * acceptance (local or primary), or when both have answered. A {@link SlimBlock} (a Stratum worker
   * process's block on a slim template) goes to the primary only, which assembles it (`local` null).
   */
  submitBlock(local: BlockSubmitter | null, block: string | SlimBlock, hashHex: string, height: number, late: (r: SubmitResult) => void, stale?: () => boolean): Promise<SubmitOutcome> {
    const t0 = performance.now();
    const name = this.opts.primaryName;
    const req = typeof block === "string" ? { hashHex, height, blockHex: block } : { hashHex, height, ...block };
    const remote: Promise<SubmitResult> = this.submitToPrimary(req, t0 + (this.opts.submitRetryForMs ?? 0)).then(
      (a) => {
        if (a.outcome === "accepted") this.counters.blocksToPrimaryAccepted++;
        else this.counters.blocksToPrimaryFailed++;
        // BIP22 word for a valid block off the main chain, so outcomeOf reads a lost race as such.
        return { node: name, accepted: a.outcome === "accepted", result: a.outcome === "accepted" ? null : a.outcome === "lost_race" ? "inconclusive" : "rejected", latencyMs: performance.now() - t0 };
      },
      (err: unknown) => {
        this.counters.blocksToPrimaryFailed++;
        return { node: name, accepted: false, result: errorText(err).slice(0, 256), latencyMs: performance.now() - t0 };
      },
    );
    // The local submitter reports through `late` only answers after its own outcome, which is an acceptance
    // (ours too) or comes with every local answer.
    const localP: Promise<SubmitOutcome> = local && typeof block === "string" ? local.submit(block, hashHex, late, stale) : Promise.resolve({ outcome: "rejected", results: [], pending: [], all: Promise.resolve([]) });
    let decided = false;
    return new Promise<SubmitOutcome>((resolve) => {
      const results: SubmitResult[] = [];
      let localOutcome: SubmitOutcome | null = null;
      let remoteResult: SubmitResult | null = null;
      const all = Promise.all([localP.then((o) => o.all), remote]).then(([l, r]) => [...l, r]);
      const decide = () => {
        if (decided) return;
        const accepted = results.some((r) => r.accepted);
        const done = localOutcome !== null && remoteResult !== null;
        if (!accepted && !done) return;
        decided = true;
        const pending = [...(localOutcome ? localOutcome.pending : []), ...(remoteResult ? [] : [name])];
        resolve({ outcome: outcomeOf(results), results: [...results], pending, all });
      };
      void localP.then((o) => {
        localOutcome = o;
        results.push(...o.results);
        decide();
      });
      void remote.then((r) => {
        remoteResult = r;
        if (decided) late(r);
        else {
          results.push(r);
          decide();
        }
      });
    });
  }

  /** {@link PrimaryLink.submitBlock}, sent again while the link could not take it, until `retryUntil` (performance.now() ms). */
  private async submitToPrimary(req: Parameters<PrimaryLink["submitBlock"]>[0], retryUntil: number): Promise<Awaited<ReturnType<PrimaryLink["submitBlock"]>>> {
    for (;;) {
      try {
        return await this.opts.link.submitBlock(req);
      } catch (err) {
        // Only a block that was never sent is sent again (one sent and unanswered may be on its way to the node).
        if (!(err instanceof PrimarySubmitError) || err.code !== "PRIMARY_UNREACHABLE" || performance.now() + SUBMIT_RETRY_INTERVAL_MS > retryUntil || this.closed) throw err;
        await new Promise((r) => setTimeout(r, SUBMIT_RETRY_INTERVAL_MS));
      }
    }
  }

  status(): RelayStatus {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    return {
      mode: this.state,
      independent: this.state === "independent",
      sinceMs: this.stateSinceMs,
      link: this.opts.link.status(),
      primaryTemplatesAdopted: this.counters.primaryTemplatesAdopted,
      primaryTemplatesBehind: this.counters.primaryTemplatesBehind,
      fastTipSwitches: this.counters.fastTipSwitches,
      independentSwitches: this.counters.independentSwitches,
      templateLatencyMs: {
        last: this.latencies.at(-1) ?? null,
        p50: sorted.length ? sorted[Math.floor(sorted.length / 2)]! : null,
        max: sorted.at(-1) ?? null,
      },
      blocksToPrimary: { accepted: this.counters.blocksToPrimaryAccepted, failed: this.counters.blocksToPrimaryFailed },
    };
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.opts.link.close();
    this.firstWork.resolve();
  }
}
