/**
 * The interfaces a service programs against, whatever the target: its
 * network stack (Fata's or the host's), read-only assets, and the context
 * (logging, time, randomness) that `main` receives.
 */
import type { Clock, Random } from '../devices/index.ts';
import type { PeerStream } from '../net/stream.ts';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

/** Structured, levelled logging to the console device: one `key=value` line per event. */
export interface Logger {
  error(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  debug(event: string, fields?: Record<string, unknown>): void;
}

export interface Context {
  readonly name: string;
  readonly log: Logger;
  readonly clock: Clock;
  readonly random: Random;
  /** The boot arguments as given, after the image name (a file parameter holds the contents of its file). */
  readonly argv: readonly string[];
  /** Resolves after `ms` milliseconds of the platform's clock. */
  sleep(ms: number): Promise<void>;
}

export interface UdpMessage {
  readonly src: string;
  readonly srcPort: number;
  /** Borrowed: valid during the callback. */
  readonly data: Uint8Array;
}

export interface UdpEndpoint {
  readonly port: number;
  /** Sends `data` (copied); false when it was dropped locally. */
  send(dst: string, dstPort: number, data: Uint8Array): boolean;
  close(): void;
}

/**
 * A TCP connection as a service sees it, the same over Fata's stack and the
 * host's. `write` takes what fits and returns how much; after a short write,
 * wait for `onDrain`. Data passed to `onData` is borrowed: copy what you keep.
 */
export interface TcpStream extends PeerStream {
  /** Turn Nagle's algorithm off (true) or on, as TCP_NODELAY does. */
  setNoDelay?(on: boolean): void;
  /**
   * Let go of the connection (Fata's TCP): a FIN after what is queued, and whatever the peer still sends is dropped,
   * so a window shut by a paused reader opens again; a peer that does not finish within 60 s (TcpConfig's
   * `finWait2TimeoutNs`) is reset. Unlike `end`, no more data or `onEnd` is delivered.
   */
  close?(): void;
}

export interface TcpServer {
  readonly port: number;
  close(): void;
}

/** A network device as a service sees it: an IP stack. */
export interface NetStack {
  /** `direct`: Fata's TCP/IP on raw frames; `socket`: the host's sockets. */
  readonly mode: 'direct' | 'socket';
  /** The configured address (`10.0.0.2/24`, static or from DHCP), if this stack has one of its own. */
  readonly ipv4: string | undefined;
  udpBind(port: number, onMessage: (m: UdpMessage) => void): Promise<UdpEndpoint>;
  tcpListen(port: number, onConnection: (s: TcpStream) => void): Promise<TcpServer>;
  /** Opens a connection; resolves once established, rejects if refused or timed out. */
  tcpConnect(dst: string, port: number): Promise<TcpStream>;
  /**
   * Addresses for a host name, like getaddrinfo: Fata's stub resolver
   * asking the DHCP-given or `--dns` servers (direct), or the host's
   * resolver (socket). Rejects with an error whose `code` is ENOTFOUND,
   * ENODATA, ETIMEOUT, ESERVFAIL or ENOSERVERS.
   */
  lookup(host: string, opts?: { family?: 0 | 4 | 6 }): Promise<string[]>;
  /**
   * One ICMP echo request to `dst` (an IPv4 address): resolves with the round trip in milliseconds, or
   * rejects with an error whose `code` is ETIMEOUT when no reply came within `timeoutMs` (default 1000).
   * `size` is the payload (default 56, at most 1472). On `socket` it rejects with ENOTSUP: the host's
   * sockets give no ICMP to an unprivileged process.
   */
  ping(dst: string, opts?: { timeoutMs?: number; size?: number }): Promise<number>;
}

/** Files built into the image: path (`/index.html`) → bytes. */
export interface Assets {
  get(path: string): Uint8Array | undefined;
  list(): readonly string[];
  /** A variant compressed at build time, if one was smaller. */
  variant(path: string, encoding: 'br' | 'gzip'): Uint8Array | undefined;
  /** When the files last changed (ms since the epoch; SOURCE_DATE_EPOCH when the build had it). */
  readonly modifiedMs: number;
}
