/**
 * Jobs: what mining.notify announces. A job is a template plus an ntime and an id; job ids are
 * shared by every miner (each miner's coinbase differs — solo payout and signature — but the id does not).
 * The registry decides what is stale (a job whose template's prevhash is no longer the tip) and
 * what has expired (older than `jobExpirySec`; ckpool keeps same-block jobs ~600 s).
 * Pure code: the caller passes the time.
 */
import type { TemplateWork } from "./template.ts";
import { u32hex } from "../../util/hex.ts";

export interface Job {
  /** Job id as sent in mining.notify (hex). */
  readonly id: string;
  /** Numeric form of `id`, for ordering. */
  readonly seq: number;
  readonly template: TemplateWork;
  /** Header time (s) the job starts from; a share's ntime must be in [ntime, ntime + 7000]. */
  readonly ntime: number;
  readonly ntimeHex: string;
  /** Whether miners must drop earlier work (a new prevhash). */
  readonly cleanJobs: boolean;
  readonly createdAtMs: number;
}

export type JobLookup =
  | { kind: "current"; job: Job }
  | { kind: "stale"; job: Job } // a previous block's job: still hashed (it may solve its own parent), then rejected
  | { kind: "unknown" };

export interface JobRegistryOptions {
  /** How long a job of the current block stays valid after it was made (s). Default 600. */
  jobExpirySec?: number;
  /** How long a previous block's jobs are kept for the block check before they are forgotten (s). Default 120. */
  staleRetentionSec?: number;
  /** Seed for job ids (so restarts don't reuse ids a miner may still hold). */
  firstSeq?: number;
  /** Most jobs kept; past it the oldest are forgotten first (their shares become job_not_found). Default 50 000. */
  maxJobs?: number;
}

export class JobRegistry {
  private readonly jobs = new Map<string, Job>();
  private seq: number;
  private readonly jobExpiryMs: number;
  private readonly staleRetentionMs: number;
  private readonly maxJobs: number;
  private currentTemplate: TemplateWork | null = null;
  private latest: Job | null = null;
  /** When the tip we mine on became the tip (ms); previous-block jobs are stale from then. */
  private tipSinceMs = 0;

  constructor(opts: JobRegistryOptions = {}) {
    this.jobExpiryMs = (opts.jobExpirySec ?? 600) * 1000;
    this.staleRetentionMs = (opts.staleRetentionSec ?? 120) * 1000;
    this.seq = opts.firstSeq ?? 1;
    this.maxJobs = opts.maxJobs ?? 50_000;
  }

  get current(): Job | null {
    return this.latest;
  }

  get template(): TemplateWork | null {
    return this.currentTemplate;
  }

  get size(): number {
    return this.jobs.size;
  }

  /**
   * Adopts a new template and makes its job. `cleanJobs` is true when the prevhash changed
   * (a new block): miners must switch at once.
   */
  addTemplate(template: TemplateWork, nowMs: number): { job: Job; newBlock: boolean } {
    const newBlock = this.currentTemplate === null || this.currentTemplate.prevhashHex !== template.prevhashHex;
    if (newBlock) this.tipSinceMs = nowMs;
    this.currentTemplate = template;
    const job = this.make(template, newBlock, nowMs);
    this.prune(nowMs);
    return { job, newBlock };
  }

  /**
   * A fresh job id on the current template (clean_jobs=false): sent after a difficulty change so a
   * miner never redoes old work under a new difficulty (ESP-Miner#1603: same id again → duplicates).
   * `haveJobId` is the newest job the asking connection already holds: when the newest refresh job on
   * this template is one it does not hold yet, that job is reused, so difficulty churn on many connections
   * mints about one job per round instead of one per connection (which let free connections fill the
   * registry and evict the job everyone mines on). Without `haveJobId` a new job is always made.
   */
  refreshJob(nowMs: number, haveJobId?: string | null): Job | null {
    if (!this.currentTemplate) return null;
    const newest = this.latest;
    if (haveJobId !== undefined && newest && newest.template === this.currentTemplate && newest.id !== haveJobId && nowMs - newest.createdAtMs < 60_000) {
      return newest;
    }
    return this.make(this.currentTemplate, false, nowMs);
  }

  lookup(jobId: string, nowMs: number): JobLookup {
    const job = this.jobs.get(jobId);
    if (!job) return { kind: "unknown" };
    if (this.currentTemplate && job.template.prevhashHex !== this.currentTemplate.prevhashHex) {
      return nowMs - this.tipSinceMs <= this.staleRetentionMs ? { kind: "stale", job } : { kind: "unknown" };
    }
    if (nowMs - job.createdAtMs > this.jobExpiryMs && job !== this.latest) return { kind: "unknown" };
    return { kind: "current", job };
  }

  private make(template: TemplateWork, cleanJobs: boolean, nowMs: number): Job {
    const seq = this.seq++;
    if (this.seq > 0xffffffff) this.seq = 1;
    // ntime starts at the template's curtime but never behind wall time by more than the template's age,
    // so a refreshed job on an old template still carries a current time.
    const ageSec = Math.max(0, Math.floor((nowMs - template.receivedAtMs) / 1000));
    const ntime = template.curtime + ageSec;
    const job: Job = { id: seq.toString(16), seq, template, ntime, ntimeHex: u32hex(ntime), cleanJobs, createdAtMs: nowMs };
    this.jobs.set(job.id, job);
    this.latest = job;
    // A hard bound, whatever mints jobs: forget the oldest first, O(1) each (Map order is insertion order).
    if (this.jobs.size > this.maxJobs) {
      for (const id of this.jobs.keys()) {
        if (this.jobs.size <= this.maxJobs) break;
        this.jobs.delete(id);
      }
    }
    return job;
  }

  /** Forgets expired jobs and previous blocks' jobs past their retention. Called on every new template. */
  prune(nowMs: number): void {
    const tip = this.currentTemplate?.prevhashHex;
    for (const [id, job] of this.jobs) {
      if (job === this.latest) continue;
      const stale = job.template.prevhashHex !== tip;
      if ((stale && nowMs - this.tipSinceMs > this.staleRetentionMs) || nowMs - job.createdAtMs > this.jobExpiryMs) this.jobs.delete(id);
    }
  }
}
