import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConsoleSanitizer } from './console-relay.ts';

const text = (b: Uint8Array): string => Buffer.from(b).toString('latin1');
const clean = (...chunks: (string | number[])[]): string => {
  const s = new ConsoleSanitizer();
  let out = '';
  for (const c of chunks) out += text(s.push(typeof c === 'string' ? Buffer.from(c, 'utf8') : Uint8Array.from(c)));
  return out + text(s.flush());
};

test('console relay: log lines, tabs and UTF-8 pass unchanged', () => {
  assert.equal(clean('ts=1 level=info\tmsg="héllo ✓"\n'), Buffer.from('ts=1 level=info\tmsg="héllo ✓"\n').toString('latin1'));
});

test('console relay: escapes, BEL, CR, backspace, DEL and C1 controls become visible', () => {
  assert.equal(clean('\x1b]0;pwned\x07\x1b[2J'), '\\x1b]0;pwned\\x07\\x1b[2J');
  assert.equal(clean('a\rb\bc\x7f\x00'), 'a\\x0db\\x08c\\x7f\\x00');
  assert.equal(clean([0xc2, 0x9b, 0x33, 0x31, 0x6d]), '\\u009b31m', 'CSI as a UTF-8 C1 control');
  assert.equal(clean([0xc2, 0xa9]), '\xc2\xa9', '© is not a control');
});

test('console relay: a C1 control split across two reads is still caught; a lone C2 at the end is kept', () => {
  assert.equal(clean([0x41, 0xc2], [0x9b, 0x42]), 'A\\u009bB');
  assert.equal(clean([0x41, 0xc2], [0xa9]), 'A\xc2\xa9');
  assert.equal(clean([0x41, 0xc2]), 'A\xc2');
});

test('console relay: whatever the bytes and however they are split, no control but tab and newline gets through', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
      const out = Buffer.from(clean(...chunks.map((c) => [...c])), 'latin1');
      for (let i = 0; i < out.length; i++) {
        const b = out[i]!;
        assert.ok(b === 9 || b === 10 || (b >= 0x20 && b !== 0x7f), `byte ${b} at ${i}`);
        if (b === 0xc2 && i + 1 < out.length) assert.ok(out[i + 1]! < 0x80 || out[i + 1]! > 0x9f, 'C1 control');
      }
    }),
  );
});
