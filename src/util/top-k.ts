/**
 * The `k` items with the highest `score`, best first: one pass with a binary min-heap of size k,
 * O(n log k) instead of sorting all n (status pages pick 10–200 rows out of up to 100k connections
 * once a second, on the event loop that validates shares). Ties: the earlier item wins (stable).
 */
export function topK<T>(items: Iterable<T>, k: number, score: (item: T) => number, tie?: (item: T) => number): T[] {
  if (k <= 0) return [];
  // heap[0] is the worst kept entry; an entry is [score, tie-break score, index, item].
  const heap: Array<[number, number, number, T]> = [];
  const worse = (a: [number, number, number, T], b: [number, number, number, T]) => a[0] < b[0] || (a[0] === b[0] && (a[1] < b[1] || (a[1] === b[1] && a[2] > b[2])));
  const swap = (i: number, j: number) => {
    const t = heap[i];
    heap[i] = heap[j];
    heap[j] = t;
  };
  let index = 0;
  for (const item of items) {
    const e: [number, number, number, T] = [score(item), tie ? tie(item) : 0, index++, item];
    if (heap.length < k) {
      heap.push(e);
      for (let i = heap.length - 1; i > 0; ) {
        const p = (i - 1) >> 1;
        if (!worse(heap[i], heap[p])) break;
        swap(i, p);
        i = p;
      }
    } else if (worse(heap[0], e)) {
      heap[0] = e;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && worse(heap[l], heap[m])) m = l;
        if (r < heap.length && worse(heap[r], heap[m])) m = r;
        if (m === i) break;
        swap(i, m);
        i = m;
      }
    }
  }
  return heap.sort((a, b) => b[0] - a[0] || b[1] - a[1] || a[2] - b[2]).map((e) => e[3]);
}
