/**
 * A bounded ring buffer of bytes: a connection's send queue (unacknowledged
 * and unsent data) and its receive queue (data the application has not
 * taken). Grows on demand up to its capacity; copies in and out.
 */
const NO_BYTES = new Uint8Array(0);

export class ByteQueue {
  private buf: Uint8Array;
  private head = 0;
  private len = 0;
  /** The most it holds; it may be raised (send-buffer auto-tuning) but memory is taken only as data waits. */
  capacity: number;

  /** No memory until the first push: a connection that never carries data (or only one way) costs none here. */
  constructor(capacity: number, initial = 0) {
    this.capacity = capacity;
    this.buf = initial > 0 ? new Uint8Array(Math.min(capacity, initial)) : NO_BYTES;
  }

  get length(): number {
    return this.len;
  }
  /** Bytes of memory the queue holds now (its buffer), whatever it contains. */
  get allocated(): number {
    return this.buf.length;
  }
  get free(): number {
    return this.capacity - this.len;
  }

  /**
   * Gives the buffer back while the queue is empty (a connection in TIME-WAIT keeps its queues for
   * 2 MSL and needs none of their memory); it grows again if ever pushed to.
   */
  release(): void {
    if (this.len !== 0) return;
    this.buf = NO_BYTES;
    this.head = 0;
  }

  /**
   * Room for `need` bytes: a power of two from 4 KiB (a connection whose answers are small keeps a small buffer),
   * doubling, bounded by the capacity.
   */
  private grow(need: number): void {
    let cap = Math.max(this.buf.length, Math.min(this.capacity, 4096));
    while (cap < need) cap *= 2;
    cap = Math.min(cap, this.capacity);
    const nb = new Uint8Array(cap);
    this.peek(0, this.len, nb, 0);
    this.buf = nb;
    this.head = 0;
  }

  /** Appends as much of `data[off..end)` as fits; returns how many bytes were taken. */
  push(data: Uint8Array, off = 0, end = data.length): number {
    const n = Math.min(end - off, this.free);
    if (n <= 0) return 0;
    if (this.len + n > this.buf.length) this.grow(this.len + n);
    const cap = this.buf.length;
    const tail = (this.head + this.len) % cap;
    const first = Math.min(n, cap - tail);
    this.buf.set(data.subarray(off, off + first), tail);
    if (first < n) this.buf.set(data.subarray(off + first, off + n), 0);
    this.len += n;
    return n;
  }

  /** Copies `len` bytes starting `offset` bytes after the head into `into[at..)`. */
  peek(offset: number, len: number, into: Uint8Array, at: number): void {
    if (len <= 0) return;
    const cap = this.buf.length;
    const start = (this.head + offset) % cap;
    const first = Math.min(len, cap - start);
    into.set(this.buf.subarray(start, start + first), at);
    if (first < len) into.set(this.buf.subarray(0, len - first), at + first);
  }

  /** Calls `fn` with up to two views covering the first `len` bytes (borrowed). */
  views(len: number, fn: (view: Uint8Array) => void): void {
    const cap = this.buf.length;
    const first = Math.min(len, cap - this.head);
    if (first > 0) fn(this.buf.subarray(this.head, this.head + first));
    if (first < len) fn(this.buf.subarray(0, len - first));
  }

  drop(n: number): void {
    const k = Math.min(n, this.len);
    if (k <= 0) return;
    this.head = (this.head + k) % this.buf.length;
    this.len -= k;
    if (this.len === 0) this.head = 0;
  }
}
