/**
 * A small JSON-Schema-like validator: objects with known properties (an
 * unknown key is an error, so a typo never passes silently) or maps whose
 * keys follow a pattern, arrays, strings with a pattern or a list of values,
 * integers in a range, booleans, and "one of these shapes". Every problem
 * carries the JSON Pointer of the value (or of the key) it is about, which
 * the caller turns into a line and column (./json.ts). Pure; never throws.
 */
import { pointer } from './json.ts';

export type Schema =
  | {
      readonly type: 'object';
      /** Known members; any other key is refused. */
      readonly properties?: Readonly<Record<string, Schema>>;
      readonly required?: readonly string[];
      /** A map instead: every key matching `keys`, every value this schema. */
      readonly values?: Schema;
      readonly keys?: { readonly pattern: RegExp; readonly hint: string };
    }
  | { readonly type: 'array'; readonly items: Schema; readonly maxItems?: number }
  | { readonly type: 'string'; readonly pattern?: RegExp; readonly enum?: readonly string[]; readonly hint?: string }
  | { readonly type: 'integer'; readonly minimum?: number; readonly maximum?: number }
  | { readonly type: 'boolean' }
  | { readonly anyOf: readonly Schema[]; readonly hint: string };

export interface Problem {
  /** JSON Pointer of what is wrong. */
  readonly path: string;
  /** The problem is the key itself (an unknown or badly named key), not its value. */
  readonly key?: boolean;
  readonly message: string;
}

const kind = (v: unknown): string => {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'an integer' : 'a number';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
};

/** Every problem of `v` against `s` at `path` (nothing: it conforms). */
export function validate(v: unknown, s: Schema, path = ''): Problem[] {
  if ('anyOf' in s) return s.anyOf.some((alt) => validate(v, alt, path).length === 0) ? [] : [{ path, message: `must be ${s.hint}` }];
  switch (s.type) {
    case 'boolean':
      return typeof v === 'boolean' ? [] : [{ path, message: `must be true or false, not ${kind(v)}` }];
    case 'integer':
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) return [{ path, message: `must be a whole number, not ${kind(v)}` }];
      if (s.minimum !== undefined && v < s.minimum) return [{ path, message: `must be at least ${s.minimum}` }];
      if (s.maximum !== undefined && v > s.maximum) return [{ path, message: `must be at most ${s.maximum}` }];
      return [];
    case 'string':
      if (typeof v !== 'string') return [{ path, message: `must be a string${s.hint ? ` (${s.hint})` : ''}, not ${kind(v)}` }];
      if (s.enum && !s.enum.includes(v)) return [{ path, message: `must be one of ${s.enum.map((e) => `"${e}"`).join(', ')}, not "${v}"` }];
      if (s.pattern && !s.pattern.test(v)) return [{ path, message: `"${v}" is not ${s.hint ?? `of the form ${s.pattern}`}` }];
      return [];
    case 'array': {
      if (!Array.isArray(v)) return [{ path, message: `must be an array, not ${kind(v)}` }];
      if (s.maxItems !== undefined && v.length > s.maxItems) return [{ path, message: `holds at most ${s.maxItems} elements` }];
      return v.flatMap((x, i) => validate(x, s.items, `${path}${pointer([i])}`));
    }
    case 'object': {
      if (!v || typeof v !== 'object' || Array.isArray(v)) return [{ path, message: `must be an object, not ${kind(v)}` }];
      const o = v as Record<string, unknown>;
      const out: Problem[] = [];
      if (s.values) {
        for (const [k, x] of Object.entries(o)) {
          const at = `${path}${pointer([k])}`;
          if (s.keys && !s.keys.pattern.test(k)) out.push({ path: at, key: true, message: `"${k}" is not ${s.keys.hint}` });
          else out.push(...validate(x, s.values, at));
        }
        return out;
      }
      const known = s.properties ?? {};
      for (const r of s.required ?? []) if (!(r in o)) out.push({ path, message: `needs "${r}"` });
      for (const [k, x] of Object.entries(o)) {
        const at = `${path}${pointer([k])}`;
        const sub = known[k];
        if (!sub) out.push({ path: at, key: true, message: `unknown key "${k}"; known here: ${Object.keys(known).join(', ')}` });
        else out.push(...validate(x, sub, at));
      }
      return out;
    }
  }
}
