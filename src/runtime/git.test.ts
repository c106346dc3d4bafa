import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withThinPack } from './git.ts';

const pkt = (s: string): string => `${(s.length + 4).toString(16).padStart(4, '0')}${s}`;
const text = (b: Uint8Array): string => String.fromCharCode(...b);
const OLD = 'dc8253a264d3c568f575a9ce7844149ab4553766';
const NEW = '645eed14d4c38dbb599ed23a554f019166b5c892';

test('withThinPack: thin-pack joins the first want line, its length rewritten, the rest byte for byte', () => {
  // isomorphic-git's request for a depth-1 fetch into a shallow repository, as it sends it.
  const rest = `${pkt(`shallow ${OLD}\n`)}${pkt('deepen 1\n')}0000${pkt(`have ${OLD}\n`)}${pkt('done\n')}`;
  const body = new TextEncoder().encode(`${pkt(`want ${NEW} multi_ack_detailed no-done side-band-64k ofs-delta agent=x\n`)}${rest}`);
  const out = text(withThinPack(body));
  assert.equal(out, `${pkt(`want ${NEW} multi_ack_detailed no-done side-band-64k ofs-delta agent=x thin-pack\n`)}${rest}`);
  assert.equal(
    out.slice(0, 4),
    (`want ${NEW} multi_ack_detailed no-done side-band-64k ofs-delta agent=x thin-pack\n`.length + 4).toString(16).padStart(4, '0'),
  );
});

test('withThinPack: a body that asks for it already, or is not a want, or is short or malformed, is left as it is', () => {
  for (const s of [
    pkt(`want ${NEW} side-band-64k thin-pack ofs-delta\n`),
    pkt(`want ${NEW} thin-pack\n`),
    pkt(`have ${OLD}\n`),
    '0000',
    '00',
    'zzzzwant',
    `0fffwant ${NEW}\n`,
    '',
  ]) {
    const b = new TextEncoder().encode(s);
    assert.equal(withThinPack(b), b, JSON.stringify(s));
  }
});
