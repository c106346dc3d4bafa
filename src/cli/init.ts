/**
 * `fata init NAME`: a new service project in folder NAME — package.json
 * depending on fata, a tsconfig, a config.ts and main.ts that serve HTTP, a
 * test that builds and runs it on the node target over the host's sockets
 * and fetches a page, and a README whose two commands work. The files are
 * written here, as text, so that `npx fata init` and an `npm create`
 * initializer (a bin calling `initProject`) make the same project.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { FATA_ROOT } from '../host/paths.ts';
import { FataError } from '../host/errors.ts';

export const INIT_USAGE = `usage: fata init [--fata=SPEC] NAME
  Makes folder NAME (a path; its last part names the service and the npm package: lower-case letters,
  digits, '-' and '_') with package.json, tsconfig.json, config.ts, main.ts (an HTTP service),
  test/service.test.ts and a README. Then: cd NAME && npm install && npm start.
  --fata=SPEC  what package.json depends on for fata (default: ^ and this fata's version;
               a path or file: URL of a tarball or a folder works too)`;

/** The versions the project's type-check uses: the ones Fata itself is checked with. */
function fataPackage(): { version: string; dependencies: Record<string, string>; devDependencies: Record<string, string> } {
  return JSON.parse(readFileSync(join(FATA_ROOT, 'package.json'), 'utf8'));
}

function packageJson(name: string, fataSpec: string): string {
  const fata = fataPackage();
  const dev = (n: string): string => fata.dependencies[n] ?? fata.devDependencies[n] ?? 'latest';
  return `${JSON.stringify(
    {
      name,
      version: '0.1.0',
      private: true,
      type: 'module',
      scripts: {
        start: 'fata run .',
        build: 'fata build .',
        typecheck: 'tsc -p .',
        test: 'tsc -p . && node --test "test/**/*.test.ts"',
      },
      dependencies: { fata: fataSpec },
      devDependencies: { '@types/node': dev('@types/node'), typescript: dev('typescript') },
      // npm runs a dependency's install script only when the project approves it: `node` links the pinned engine, koffi its binary.
      allowScripts: { node: true, koffi: true },
    },
    null,
    2,
  )}\n`;
}

const TSCONFIG = `${JSON.stringify(
  {
    compilerOptions: {
      target: 'esnext',
      module: 'nodenext',
      moduleResolution: 'nodenext',
      lib: ['esnext'],
      types: ['node'],
      strict: true,
      noEmit: true,
      allowImportingTsExtensions: true,
      erasableSyntaxOnly: true,
      verbatimModuleSyntax: true,
      isolatedModules: true,
      noUncheckedIndexedAccess: true,
      skipLibCheck: true,
    },
    include: ['*.ts', 'test'],
  },
  null,
  2,
)}\n`;

const config = (name: string): string => `import { net, param, service } from 'fata';

export default service({
  name: '${name}',
  main: './main.ts',
  devices: { service: net() },
  params: {
    port: param.int(8080, 'the HTTP port', { min: 1, max: 65535 }),
    greeting: param.string('Hello from ${name}', 'what GET / answers'),
  },
});
`;

const MAIN = `/** An HTTP service: GET / answers with the greeting, anything else with 404. */
import type { Main } from 'fata';
import { HttpServer, httpDate, type HttpHandler, type HttpResponse } from 'fata/http';
import type config from './config.ts';

export const main: Main<typeof config> = async ({ service }, params, ctx) => {
  const text = (status: number, body: string): HttpResponse => ({
    status,
    headers: [['Content-Type', 'text/plain; charset=utf-8']],
    body: new TextEncoder().encode(body),
  });
  const handler: HttpHandler = (req) => (req.target === '/' ? text(200, \`\${params.greeting}\\n\`) : text(404, 'not found\\n'));
  const http = new HttpServer(handler, {
    now: () => ctx.clock.monotonicNs(),
    date: () => httpDate(Number(ctx.clock.wallNs() / 1_000_000n)),
    onAccess: (e) => ctx.log.info('access', { method: e.method, target: e.target, status: e.status }),
  });
  await service.tcpListen(params.port, (s) => http.accept(s));
  ctx.log.info('serving', { url: \`http://\${service.ipv4?.split('/')[0] ?? '127.0.0.1'}:\${params.port}/\` });
  for (;;) {
    await ctx.sleep(1000);
    http.sweep(); // Deadlines: slow request heads get 408, idle connections close.
  }
};
`;

const TEST = `/**
 * Builds the service and runs it as \`npm start\` does (the node target, the host's sockets on 127.0.0.1),
 * on a free port, and fetches its pages.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const fata = fileURLToPath(new URL('../node_modules/.bin/fata', import.meta.url));

const freePort = (): Promise<number> =>
  new Promise((ok, fail) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
    s.on('error', fail);
  });

test('the service answers GET / with its greeting and anything else with 404', async () => {
  const port = await freePort();
  const child = spawn(fata, ['run', '.', \`--port=\${port}\`, '--greeting=hi from the test'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  try {
    const deadline = Date.now() + 60_000;
    while (!out.includes('event=serving')) {
      assert.ok(Date.now() < deadline && child.exitCode === null, \`the service did not start:\\n\${out}\`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const res = await fetch(\`http://127.0.0.1:\${port}/\`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'hi from the test\\n');
    assert.equal((await fetch(\`http://127.0.0.1:\${port}/nope\`)).status, 404);
  } finally {
    child.kill();
  }
});
`;

const readme = (name: string): string => `# ${name}

A network service written in TypeScript for [Fata](https://www.npmjs.com/package/fata), a library
operating system: \`config.ts\` declares its devices and parameters, \`main.ts\` is the service.

\`\`\`sh
npm install && npm start   # install, then build and serve on http://127.0.0.1:8080/
npm test                   # type-check, then build, run and fetch it (test/service.test.ts)
\`\`\`

\`npm start -- --port=9000 --greeting=hi\` passes boot arguments; \`npx fata run . --help\` lists them.
\`npx fata build .\` writes the image, \`dist/${name}.fata\`; \`npx fata --help\` says the rest.
Fata's service API (what \`main\` receives): node_modules/fata/docs/api/. Code that imports Fata
outside \`fata build\` (a test driving its simulator, \`fata/sim\`, say) runs with \`node --import fata/register\`.
`;

const GITIGNORE = 'node_modules/\ndist/\n';

export interface InitOptions {
  /** What package.json depends on for fata (default `^VERSION` of this fata). */
  readonly fataSpec?: string;
}

/** Writes a new project into folder `dirArg` (made; it must not exist or be empty). Returns the files written. */
export function initProject(dirArg: string, opts: InitOptions = {}): string[] {
  const dir = resolve(dirArg);
  const name = basename(dir);
  if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(name))
    throw new FataError(
      'FATA_BAD_NAME',
      `'${name}' cannot name a service and an npm package: use 1-63 lower-case letters, digits, '-' or '_', starting with a letter or digit`,
    );
  if (existsSync(dir) && readdirSync(dir).length > 0)
    throw new FataError('FATA_NOT_EMPTY', `${dirArg} already exists and is not empty: choose a new folder`);
  let spec = opts.fataSpec ?? `^${fataPackage().version}`;
  // A path to a tarball or a folder, as npm understands it from anywhere: file: and absolute.
  if (/^(\.{0,2}\/|file:)/.test(spec)) spec = `file:${resolve(spec.replace(/^file:/, ''))}`;
  const files: [string, string][] = [
    ['package.json', packageJson(name, spec)],
    ['tsconfig.json', TSCONFIG],
    ['config.ts', config(name)],
    ['main.ts', MAIN],
    ['test/service.test.ts', TEST],
    ['README.md', readme(name)],
    ['.gitignore', GITIGNORE],
  ];
  mkdirSync(join(dir, 'test'), { recursive: true });
  for (const [f, text] of files) writeFileSync(join(dir, f), text);
  return files.map(([f]) => relative(process.cwd(), join(dir, f)));
}

/** `fata init ARGS`: 0, or 1 with the reason said. */
export function initCommand(argv: readonly string[], say: (s: string) => void): number {
  let fataSpec: string | undefined, dir: string | undefined;
  for (const a of argv) {
    if (a.startsWith('--fata=')) fataSpec = a.slice(7);
    else if (a.startsWith('-')) {
      say(`fata init: unknown flag '${a}'\n${INIT_USAGE}`);
      return 1;
    } else if (dir === undefined) dir = a;
    else {
      say(`fata init: one project at a time ('${dir}' and '${a}')`);
      return 1;
    }
  }
  if (!dir) {
    say(`fata init: which folder? (fata init my-service)\n${INIT_USAGE}`);
    return 1;
  }
  initProject(dir, { fataSpec });
  process.stdout.write(`made ${dir}: next, cd ${dir} && npm install && npm start\n`);
  return 0;
}
