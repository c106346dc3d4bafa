/**
 * The RST segment, built in one place for the layer (segments for no
 * connection) and the connection (abort, give up, unacceptable ACKs).
 */
import { ACK, FIN, RST, SYN, type TcpRepr, type TcpView } from '../../wire/tcp.ts';
import { seqAdd } from './seq.ts';

/**
 * A RST from `srcPort` to `dstPort` at `seq`; with `ack`, RST|ACK acknowledging up to it. A reset
 * carries no window and no options (RFC 9293 §3.5.2).
 */
export function resetRepr(srcPort: number, dstPort: number, seq: number, ack?: number): TcpRepr {
  return ack === undefined
    ? { srcPort, dstPort, seq, ack: 0, flags: RST, window: 0 }
    : { srcPort, dstPort, seq, ack, flags: RST | ACK, window: 0 };
}

/**
 * The RST answering segment `v` (RFC 9293 §3.10.7.1, and §3.10.7.3 for an unacceptable ACK in
 * SYN-SENT or SYN-RECEIVED): <SEQ=SEG.ACK><CTL=RST> if it had ACK, else
 * <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. Never call it for a RST.
 */
export function resetReplyTo(v: TcpView): TcpRepr {
  const flags = v.flags;
  if (flags & ACK) return resetRepr(v.dstPort, v.srcPort, v.ack);
  const len = v.payloadLen + (flags & SYN ? 1 : 0) + (flags & FIN ? 1 : 0);
  return resetRepr(v.dstPort, v.srcPort, 0, seqAdd(v.seq, len));
}
