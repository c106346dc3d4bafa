/**
 * Drop counters by reason: every layer keeps one, so that a malformed or
 * unwanted packet is always accounted for and never throws.
 */
export type Counters<R extends string> = Record<R, number>;

export function counters<R extends string>(reasons: readonly R[]): Counters<R> {
  const c = {} as Counters<R>;
  for (const r of reasons) c[r] = 0;
  return c;
}

/** The result of handing a datagram down the stack. */
export type SendResult =
  /** Handed to the device (or queued behind ARP resolution). */
  | 'ok'
  /** No route to the destination (off-link and no gateway). */
  | 'no-route'
  /** Larger than the protocol allows, or DF set and larger than the MTU. */
  | 'too-big'
  /** Dropped locally: device queue full or the ARP queue for the next hop is full. */
  | 'dropped'
  /** The stack has no IPv4 address yet. */
  | 'no-address';
