/** Latency samples and their summary. Pure. */

/** Percentiles of a sample set, ms (all 0 when empty). */
export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Collects samples (growable Float64Array, no per-sample allocation). */
export class Samples {
  private buf = new Float64Array(1024);
  private n = 0;

  get count(): number {
    return this.n;
  }

  add(v: number): void {
    if (this.n === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.n++] = v;
  }

  /** Nearest-rank percentiles over the samples so far. */
  summary(): LatencySummary {
    return summarize(this.buf.subarray(0, this.n));
  }
}

/** Nearest-rank percentile of sorted values (`q` in [0, 1]). */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1];
}

/** Summary of unsorted values (copies before sorting). */
export function summarize(values: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0 };
  let sum = 0;
  for (const v of sorted) sum += v;
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return {
    count: sorted.length,
    mean: r(sum / sorted.length),
    p50: r(percentile(sorted, 0.5)),
    p90: r(percentile(sorted, 0.9)),
    p99: r(percentile(sorted, 0.99)),
    max: r(sorted[sorted.length - 1]),
  };
}
