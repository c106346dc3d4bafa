/**
 * Levelled, structured logging to the console device: one line per event,
 * `ts=… level=… src=… event=… key=value…`, values quoted when they need it,
 * so that `grep level=error` and `grep event=boot` work. Every write ends:
 * the console device bounds the time a write may take.
 */
import type { Clock, Console } from '../devices/index.ts';
import { LOG_LEVELS, type Logger, type LogLevel } from './types.ts';

/** A field's value as text: strings as they are, bigints in decimal, errors by their message, the rest as JSON. */
function asText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Error) return v.message;
  return JSON.stringify(v) ?? 'undefined';
}

function fmt(v: unknown): string {
  const s = asText(v);
  return /^[^\s"=]+$/.test(s) ? s : JSON.stringify(s);
}

export function formatLine(wallNs: bigint, level: LogLevel, src: string, event: string, fields: Record<string, unknown> = {}): string {
  const ts = new Date(Number(wallNs / 1_000_000n)).toISOString();
  let line = `ts=${ts} level=${level} src=${fmt(src)} event=${fmt(event)}`;
  for (const [k, v] of Object.entries(fields)) line += ` ${k}=${fmt(v)}`;
  return line + '\n';
}

export function createLogger(console: Console, clock: Clock, src: string, level: LogLevel): Logger {
  const max = LOG_LEVELS.indexOf(level);
  const enc = new TextEncoder();
  const at =
    (l: LogLevel) =>
    (event: string, fields?: Record<string, unknown>): void => {
      if (LOG_LEVELS.indexOf(l) <= max) console.write(enc.encode(formatLine(clock.wallNs(), l, src, event, fields)));
    };
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}
