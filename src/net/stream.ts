/**
 * A byte stream with back-pressure, as the protocols above TCP run on it
 * (HTTP, DNS over TCP): Fata's TCP, the host's sockets, or TLS on either.
 * Data passed to `onData` is borrowed: copy what you keep.
 */
export interface ByteStream {
  onData: ((data: Uint8Array) => void) | undefined;
  /** The peer finished sending (FIN). */
  onEnd: (() => void) | undefined;
  onDrain: (() => void) | undefined;
  onClose: ((error: string | undefined) => void) | undefined;
  /** Takes what fits, returns how much; after a short write, `onDrain` says when to go on. */
  write(data: Uint8Array): number;
  /** Finish sending (FIN after what is queued); reading goes on. */
  end(): void;
  /** Abort (RST). */
  destroy(): void;
  pause(): void;
  resume(): void;
}

/** A byte stream with its peer's address: what a TCP connection (Fata's or the host's) is to HTTP and to a service. */
export interface PeerStream extends ByteStream {
  readonly remote: string;
  readonly remotePort: number;
}
