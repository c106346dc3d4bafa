/** Boot arguments: MirageOS's shapes, the DHCP default, --dns, and errors that say what to do. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { helpText, parseBootArgs } from './args.ts';
import { param } from './config.ts';

const schema = { port: param.int(53, 'port', { min: 1, max: 65535 }), axfr: param.bool(false, 'zone transfers') };

test('no --ipv4 means DHCP (no address), and --dns takes a list', () => {
  const a = parseBootArgs(['--dns=10.0.0.1,10.0.0.2', '--port', '5353', '--axfr'], schema);
  assert.ok(!('error' in a));
  assert.equal(a.ipv4, undefined);
  assert.deepEqual(a.dns, [0x0a000001, 0x0a000002]);
  assert.equal(a.params.port, 5353);
  assert.equal(a.params.axfr, true);
  assert.match(helpText('x', schema, true), /--ipv4=ADDRESS\/PREFIX\s+.*default: ask DHCP/);
  assert.match(helpText('x', schema, true), /--dns=ADDRESS\[,ADDRESS\]/);
});

test('bad values get a message that says what to write', () => {
  const bad = (argv: string[]): string => {
    const r = parseBootArgs(argv, schema);
    return 'error' in r ? r.error : 'no error';
  };
  assert.match(bad(['--dns=10.0.0.1,nope']), /like --dns=10\.0\.0\.1/);
  assert.match(bad(['--ipv4=10.0.0.2']), /like --ipv4=10\.0\.0\.2\/24/);
  assert.match(bad(['--port=0']), /from 1 to 65535/);
  assert.match(bad(['--frob']), /--help lists/);
  assert.match(bad(['--tcp-congestion=vegas']), /use one of cubic, newreno, bbr/);
});

test('--tcp-congestion chooses the congestion control of the stack (unset: its default, CUBIC)', () => {
  const a = parseBootArgs(['--tcp-congestion=bbr'], schema);
  assert.ok(!('error' in a));
  assert.equal(a.tcpCongestion, 'bbr');
  const d = parseBootArgs([], schema);
  assert.ok(!('error' in d));
  assert.equal(d.tcpCongestion, undefined);
  assert.match(helpText('x', schema, true), /--tcp-congestion=NAME\s+.*cubic, newreno, bbr/);
});
