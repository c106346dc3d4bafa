/** The protocol layers: Ethernet, ARP, IPv4 (with fragmentation), ICMPv4, UDP, and the stack that joins them. */
export * from './counters.ts';
export * from './ethernet.ts';
export * from './arp.ts';
export * from './reassembly.ts';
export * from './ipv4.ts';
export * from './icmp.ts';
export * from './udp.ts';
export * from './stack.ts';
export * from './tcp/index.ts';
export type { ByteStream } from './stream.ts';
