/**
 * Fixed-capacity FIFO ring buffer: O(1) push, shift and unshift, no reallocation, so the
 * emit path never triggers an array copy however long the queue gets.
 */
export class RingQueue<T> {
  private readonly items: (T | undefined)[];
  private head = 0;
  private size = 0;

  /** `capacity` ≥ 1: the most items held at once. */
  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError("capacity must be a positive integer");
    this.items = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.size;
  }

  /** Append at the tail; false (and nothing stored) when full. */
  push(item: T): boolean {
    if (this.size === this.capacity) return false;
    this.items[(this.head + this.size) % this.capacity] = item;
    this.size++;
    return true;
  }

  /** Put back at the head (a retried item keeps its place); false when full. */
  unshift(item: T): boolean {
    if (this.size === this.capacity) return false;
    this.head = (this.head - 1 + this.capacity) % this.capacity;
    this.items[this.head] = item;
    this.size++;
    return true;
  }

  /** Remove and return the oldest item. */
  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined; // let the GC have it
    this.head = (this.head + 1) % this.capacity;
    this.size--;
    return item;
  }

  /** The oldest item, not removed. */
  peek(): T | undefined {
    return this.size === 0 ? undefined : this.items[this.head];
  }
}
