/** TCP: the connection state machine, the layer that demultiplexes to it, and their parts. */
export * from './seq.ts';
export * from './bytes.ts';
export * from './congestion.ts';
export * from './connection.ts';
export * from './tcp.ts';
