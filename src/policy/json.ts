/**
 * JSON (RFC 8259) parsed with the place of every value, so that an error
 * about `/unikernels/web/memoryMb` can name line 12, column 19 of the file.
 * Pure: no I/O, never throws on its input — a syntax error is a result with
 * its line and column. Stricter than JSON.parse in one way: a key given twice
 * in one object is an error (JSON.parse keeps the last silently; in a policy
 * that would hide a second unikernel of the same name).
 */

/** 1-based, as editors count; the column counts UTF-16 code units, as JavaScript strings do. */
export interface Position {
  readonly line: number;
  readonly column: number;
}

export interface Located {
  readonly value: unknown;
  /** JSON Pointer (RFC 6901) → where the value starts, and where its key is for an object member. */
  readonly positions: ReadonlyMap<string, { readonly value: Position; readonly key?: Position }>;
}

export interface JsonError {
  readonly error: string;
  readonly at: Position;
}

/** RFC 6901: `~` → `~0`, `/` → `~1`. */
export const pointer = (path: readonly (string | number)[]): string =>
  path.map((p) => `/${String(p).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');

class Fail {
  readonly message: string;
  readonly offset: number;
  constructor(message: string, offset: number) {
    this.message = message;
    this.offset = offset;
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const ESCAPE = /\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})/y;
const WORDS = [
  ['true', true],
  ['false', false],
  ['null', null],
] as const;

/** One parse: the text, where each line starts, the offset reached, and the places found so far. */
class Parser {
  readonly text: string;
  readonly lineStarts = [0];
  readonly positions = new Map<string, { value: Position; key?: Position }>();
  i = 0;

  constructor(text: string) {
    this.text = text;
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
  }

  at(offset: number): Position {
    let lo = 0,
      hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - this.lineStarts[lo]! + 1 };
  }

  ws(): void {
    while (this.i < this.text.length && ' \t\n\r'.includes(this.text[this.i]!)) this.i++;
  }

  found(): string {
    return this.i >= this.text.length ? 'the end of the file' : `'${this.text[this.i]}'`;
  }

  /** A string token, checked by hand (no control characters, only JSON's escapes), decoded by JSON.parse. */
  string(): string {
    const start = this.i;
    const t = this.text;
    let j = start + 1;
    for (;;) {
      if (j >= t.length || t.charCodeAt(j) < 0x20) throw new Fail('a string is not closed, or holds a control character', start);
      if (t[j] === '"') break;
      if (t[j] === '\\') {
        ESCAPE.lastIndex = j;
        const m = ESCAPE.exec(t);
        if (!m) throw new Fail('a string holds an escape JSON does not have', j);
        j += m[0].length;
      } else j++;
    }
    this.i = j + 1;
    return JSON.parse(t.slice(start, this.i)) as string;
  }

  /** After a member or element: ',' goes on (true), the closing bracket ends (false). */
  next(close: '}' | ']', what: string): boolean {
    this.ws();
    const c = this.text[this.i];
    if (c === ',' || c === close) {
      this.i++;
      return c === ',';
    }
    throw new Fail(`expected ',' or '${close}' after ${what}, found ${this.found()}`, this.i);
  }

  object(path: string, depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.i++;
    this.ws();
    if (this.text[this.i] === '}') {
      this.i++;
      return out;
    }
    do {
      this.ws();
      if (this.text[this.i] !== '"') throw new Fail(`expected a key in double quotes, found ${this.found()}`, this.i);
      const keyAt = this.i;
      const key = this.string();
      if (Object.hasOwn(out, key)) throw new Fail(`the key "${key}" is given twice in this object`, keyAt);
      this.ws();
      if (this.text[this.i] !== ':') throw new Fail(`expected ':' after the key "${key}", found ${this.found()}`, this.i);
      this.i++;
      const child = `${path}${pointer([key])}`;
      this.ws();
      this.positions.set(child, { value: this.at(this.i), key: this.at(keyAt) });
      // An own property whatever the key: `out[key] =` with "__proto__" would set the object's prototype
      // (JSON.parse makes it a member, as this does).
      Object.defineProperty(out, key, { value: this.value(child, depth + 1), enumerable: true, writable: true, configurable: true });
    } while (this.next('}', 'a member'));
    return out;
  }

  array(path: string, depth: number): unknown[] {
    const out: unknown[] = [];
    this.i++;
    this.ws();
    if (this.text[this.i] === ']') {
      this.i++;
      return out;
    }
    do {
      const child = `${path}${pointer([out.length])}`;
      this.ws();
      this.positions.set(child, { value: this.at(this.i) });
      out.push(this.value(child, depth + 1));
    } while (this.next(']', 'an element'));
    return out;
  }

  value(path: string, depth: number): unknown {
    if (depth > 64) throw new Fail('nested more than 64 deep', this.i);
    this.ws();
    const c = this.text[this.i];
    if (c === '{') return this.object(path, depth);
    if (c === '[') return this.array(path, depth);
    if (c === '"') return this.string();
    for (const [word, v] of WORDS) {
      if (this.text.startsWith(word, this.i)) {
        this.i += word.length;
        return v;
      }
    }
    NUMBER.lastIndex = this.i;
    const m = NUMBER.exec(this.text);
    if (!m) throw new Fail(`expected a value (an object, array, string, number, true, false or null), found ${this.found()}`, this.i);
    this.i += m[0].length;
    return Number(m[0]);
  }
}

export function parseJson(text: string): Located | JsonError {
  const p = new Parser(text);
  try {
    p.ws();
    p.positions.set('', { value: p.at(p.i) });
    const v = p.value('', 0);
    p.ws();
    if (p.i < text.length) throw new Fail(`expected the end of the file after the value, found ${p.found()}`, p.i);
    return { value: v, positions: p.positions };
  } catch (e) {
    if (e instanceof Fail) return { error: e.message, at: p.at(e.offset) };
    throw e;
  }
}
