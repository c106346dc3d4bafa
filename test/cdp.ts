/**
 * Test helper: a headless Chromium (Debian's `chromium`, nothing downloaded) driven over the DevTools protocol on
 * a pipe (--remote-debugging-pipe: fd 3 in, fd 4 out, NUL-terminated JSON), so that it can run inside a network
 * namespace with no port of its own. Clicks are real mouse events at the element's centre; typing is
 * Input.insertText. The browser dies with the test (close(), else SIGKILL of its process group).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

export function chromiumSkipReason(): string | undefined {
  return spawnSync('sh', ['-c', 'command -v chromium']).status === 0 ? undefined : "needs Debian's chromium (apt-get install chromium)";
}

export interface Page {
  goto(url: string): Promise<void>;
  /** The value of `expression` evaluated in the page (awaited, returned by value). */
  evaluate<T>(expression: string): Promise<T>;
  /** Resolves when `expression` is truthy in the page. */
  waitFor(expression: string, what: string, timeoutMs?: number): Promise<void>;
  click(selector: string): Promise<void>;
  type(selector: string, text: string): Promise<void>;
  screenshot(): Promise<Buffer>;
}

export interface Browser {
  readonly page: Page;
  close(): Promise<void>;
}

/** Starts Chromium with `prefix` before it (e.g. `ip netns exec NS`) and opens one page. */
export async function launchChromium(prefix: string[] = []): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'fata-chromium-'));
  const argv = [
    ...prefix,
    'chromium',
    '--headless=new',
    '--no-sandbox', // As root, Chromium refuses to start without it; the page is the test's own.
    '--disable-gpu',
    '--no-first-run',
    '--remote-debugging-pipe',
    `--user-data-dir=${profile}`,
    '--window-size=1200,900',
    'about:blank',
  ];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'], detached: true });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const send = cdp(child, () => stderr);
  try {
    const { targetId } = (await send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
    const { sessionId } = (await send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
    const s = (method: string, params: object = {}): Promise<unknown> => send(method, params, sessionId);
    await s('Page.enable');
    await s('Runtime.enable');
    await s('Emulation.setDeviceMetricsOverride', { width: 1200, height: 900, deviceScaleFactor: 1, mobile: false });
    return { page: page(s), close: () => close(child, send, profile) };
  } catch (e) {
    await close(child, send, profile);
    throw e;
  }
}

type Send = (method: string, params?: object, sessionId?: string) => Promise<unknown>;

function cdp(child: ChildProcess, stderr: () => string): Send {
  const input = child.stdio[3] as Writable,
    output = child.stdio[4] as Readable;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let next = 1,
    buf = '';
  output.on('data', (d: Buffer) => {
    const parts = (buf + d.toString('utf8')).split('\0');
    buf = parts.pop() ?? '';
    for (const p of parts) {
      const m = JSON.parse(p) as { id?: number; result?: unknown; error?: { message: string } };
      const w = m.id === undefined ? undefined : pending.get(m.id);
      if (!w) continue;
      pending.delete(m.id!);
      if (m.error) w.reject(new Error(m.error.message));
      else w.resolve(m.result);
    }
  });
  child.on('exit', (code) => {
    for (const w of pending.values()) w.reject(new Error(`chromium exited (${code}): ${stderr()}`));
    pending.clear();
  });
  return (method, params = {}, sessionId) =>
    new Promise((resolve, reject) => {
      const id = next++;
      pending.set(id, { resolve, reject });
      input.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
    });
}

function page(s: (method: string, params?: object) => Promise<unknown>): Page {
  const evaluate = async <T>(expression: string): Promise<T> => {
    const r = (await s('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true })) as {
      result: { value?: unknown };
      exceptionDetails?: { text: string; exception?: { description?: string } };
    };
    if (r.exceptionDetails) throw new Error(`${expression}: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value as T;
  };
  const click = async (selector: string): Promise<void> => {
    const at = await evaluate<{ x: number; y: number } | null>(
      `(() => { const e = document.querySelector(${JSON.stringify(selector)}); if (!e) return null; e.scrollIntoView({ block: 'center' });
        const r = e.getBoundingClientRect(); return { x: r.left + r.width / 2, y: r.top + r.height / 2 }; })()`,
    );
    if (!at) throw new Error(`no element ${selector}`);
    for (const type of ['mousePressed', 'mouseReleased'])
      await s('Input.dispatchMouseEvent', { type, x: at.x, y: at.y, button: 'left', clickCount: 1 });
  };
  return {
    evaluate,
    click,
    goto: async (url) => {
      await s('Page.navigate', { url });
      await waitUntil(() => evaluate<boolean>("document.readyState === 'complete'"), `${url} loads`, 15_000);
    },
    // Generous: a guard against a hang, not a timing claim (a destroy on a loaded 2-core machine took over 20 s).
    waitFor: (expression, what, timeoutMs = 90_000) => waitUntil(() => evaluate<boolean>(`!!(${expression})`), what, timeoutMs),
    type: async (selector, text) => {
      await click(selector);
      await s('Input.insertText', { text });
    },
    screenshot: async () => Buffer.from(((await s('Page.captureScreenshot', { format: 'png' })) as { data: string }).data, 'base64'),
  };
}

async function waitUntil(f: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await f())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function close(child: ChildProcess, send: Send, profile: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    send('Browser.close').catch(() => {});
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL'); // Its own process group: the renderers and helpers too.
      } catch {
        /* gone */
      }
    }, 3000);
    await exited;
    clearTimeout(timer);
  }
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    /* the whole group is gone */
  }
  rmSync(profile, { recursive: true, force: true });
}
