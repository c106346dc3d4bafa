/** The wire layer: checked views and `Repr` codecs, one file per protocol. No state, no I/O, no time. */
export * from './bytes.ts';
export * from './checksum.ts';
export * from './ethernet.ts';
export * from './arp.ts';
export * from './ipv4.ts';
export * from './icmpv4.ts';
export * from './udp.ts';
export * from './tcp.ts';
export * from './dns.ts';
export * from './dhcp.ts';
