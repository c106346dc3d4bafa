/**
 * examples/website's --metrics (metrics.ts): Prometheus's text format, checked line by line by the rules of
 * the format (a HELP and a TYPE line before each family's samples, names and label values as the format
 * allows, numeric values), with the values the website fed in; GET and HEAD answered, anything else 405, and
 * every other path handed on. The live numbers (a renewal, a failing one) are checked against pebble in
 * test/website-acme.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HttpRequest } from 'fata/http';
import { METRICS_PATH, metricsText, withMetrics, type WebsiteMetrics } from '../examples/website/metrics.ts';

/** Parses an exposition strictly: families in order, each with its HELP, TYPE and samples; throws on anything else. */
function parseExposition(text: string): Map<string, { type: string; help: string; samples: Map<string, number> }> {
  assert.ok(text.endsWith('\n'), 'ends with a newline');
  const families = new Map<string, { type: string; help: string; samples: Map<string, number> }>();
  let current: string | undefined;
  for (const line of text.slice(0, -1).split('\n')) {
    const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
    if (help) {
      assert.ok(!families.has(help[1]!), `${help[1]} described twice`);
      families.set(help[1]!, { help: help[2]!, type: '', samples: new Map() });
      current = help[1];
      continue;
    }
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge)$/.exec(line);
    if (type) {
      assert.equal(type[1], current, `TYPE of ${type[1]} right after its HELP`);
      families.get(current!)!.type = type[2]!;
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*",?)*\})? (-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)$/.exec(
      line,
    );
    assert.ok(sample, `not a valid exposition line: ${JSON.stringify(line)}`);
    assert.equal(sample[1], current, `${sample[1]} sampled under its own HELP and TYPE`);
    const f = families.get(current!)!;
    assert.ok(f.type, `${current} has a TYPE before its samples`);
    if (f.type === 'counter') assert.match(current!, /_total$/, 'counters end in _total');
    f.samples.set(sample[2] ?? '', Number(sample[3]));
  }
  return families;
}

const request = (method: string, target: string): HttpRequest => ({
  method,
  target,
  version: '1.1',
  headers: [],
  body: new Uint8Array(0),
  keepAlive: true,
});

test('metrics: the certificate expiry, the renewals and the responses, in valid exposition format', () => {
  const validToMs = Date.parse('2027-03-01T12:00:00.500Z');
  const m: WebsiteMetrics = {
    certificate: () => ({ validToMs, source: 'acme' }),
    renewals: { renewals: 2, failures: 5, failing: 3 },
    responses: new Map([
      [404, 1],
      [200, 7],
    ]),
  };
  const f = parseExposition(metricsText(m));
  assert.deepEqual(
    [...f.keys()],
    [
      'fata_website_certificate_expiry_timestamp_seconds',
      'fata_website_certificate_renewals_total',
      'fata_website_certificate_renewal_failures_total',
      'fata_website_certificate_renewal_failing',
      'fata_website_http_responses_total',
    ],
  );
  assert.equal(f.get('fata_website_certificate_expiry_timestamp_seconds')!.type, 'gauge');
  assert.deepEqual([...f.get('fata_website_certificate_expiry_timestamp_seconds')!.samples], [['{source="acme"}', 1_803_902_400]]);
  assert.deepEqual([...f.get('fata_website_certificate_renewals_total')!.samples], [['', 2]]);
  assert.deepEqual([...f.get('fata_website_certificate_renewal_failures_total')!.samples], [['', 5]]);
  assert.deepEqual([...f.get('fata_website_certificate_renewal_failing')!.samples], [['', 3]]);
  assert.deepEqual(
    [...f.get('fata_website_http_responses_total')!.samples],
    [
      ['{code="200"}', 7],
      ['{code="404"}', 1],
    ],
  );
});

test('metrics: without ACME no renewal families; before any certificate no expiry; no responses is an empty family', () => {
  const files = parseExposition(metricsText({ certificate: () => ({ validToMs: 86_400_000, source: 'files' }), responses: new Map() }));
  assert.deepEqual([...files.keys()], ['fata_website_certificate_expiry_timestamp_seconds', 'fata_website_http_responses_total']);
  assert.deepEqual([...files.get('fata_website_certificate_expiry_timestamp_seconds')!.samples], [['{source="files"}', 86_400]]);
  assert.equal(files.get('fata_website_http_responses_total')!.samples.size, 0);
  const none = parseExposition(metricsText({ certificate: () => undefined, responses: new Map() }));
  assert.deepEqual([...none.keys()], ['fata_website_http_responses_total']);
});

test('metrics: GET and HEAD of the path answered as text/plain 0.0.4, other methods 405, other paths handed on', () => {
  const m: WebsiteMetrics = { responses: new Map([[200, 1]]) };
  const seen: string[] = [];
  const h = withMetrics(m, (req) => {
    seen.push(req.target);
    return { status: 204 };
  });
  const from = { remote: '10.0.0.1', remotePort: 1234 };
  const got = h(request('GET', `${METRICS_PATH}?x=1`), from);
  assert.ok(!('then' in got));
  assert.equal(got.status, 200);
  assert.deepEqual(got.headers, [['Content-Type', 'text/plain; version=0.0.4; charset=utf-8']]);
  assert.match(new TextDecoder().decode(got.body), /^fata_website_http_responses_total\{code="200"\} 1$/m);
  assert.equal((h(request('HEAD', METRICS_PATH), from) as { status: number }).status, 200);
  assert.equal((h(request('POST', METRICS_PATH), from) as { status: number }).status, 405);
  assert.equal((h(request('GET', '/index.html'), from) as { status: number }).status, 204);
  assert.equal((h(request('GET', `${METRICS_PATH}x`), from) as { status: number }).status, 204);
  assert.deepEqual(seen, ['/index.html', `${METRICS_PATH}x`]);
});
