/**
 * The test command's reporter: Node's `spec` output, plus one rule for CI.
 * With `CI=true`, a skipped test is a failure: a missing prerequisite
 * (a package, root, /dev/net/tun, the native tender) must turn the run
 * red there, never quietly green. Elsewhere, skips stay skips, each with
 * its one-line reason.
 */
import { Readable } from 'node:stream';
import { spec } from 'node:test/reporters';
import type { TestEvent } from 'node:test/reporters';

export default async function* reporter(source: AsyncIterable<TestEvent>): AsyncGenerator<string, void> {
  const skipped: string[] = [];
  async function* watch(): AsyncGenerator<TestEvent> {
    for await (const event of source) {
      if (event.type === 'test:pass' && event.data.skip !== undefined) {
        const why = typeof event.data.skip === 'string' ? event.data.skip : 'skipped';
        skipped.push(`${event.data.file ?? '?'}: ${event.data.name} — ${why}`);
      }
      yield event;
    }
  }
  for await (const chunk of Readable.from(watch()).pipe(new spec())) yield String(chunk);
  const ci = process.env.CI === 'true' || process.env.CI === '1';
  if (ci && skipped.length > 0) {
    process.exitCode = 1;
    yield `\nCI=true: ${skipped.length} test(s) skipped, and a skip in CI is a failure (install what they need; .ci/run does):\n`;
    for (const s of skipped) yield `  ${s}\n`;
  }
}
