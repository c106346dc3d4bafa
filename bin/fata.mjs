#!/usr/bin/env node
// The `fata` command. Runs the CLI from a cached bundle of its sources (see src/host/bundle-cache.mjs),
// on the pinned engine: run by another Node (`node bin/fata.mjs`, npx through this file), it starts
// the pinned one in its place and says so once.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as nodeModule from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const pinned = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).dependencies.node;

if (process.versions.node !== pinned) process.exit(await onPinnedEngine(process.argv.slice(2)));

/** Runs this command on the pinned engine (the `node` package, resolved from Fata's root as Node resolves it). */
async function onPinnedEngine(args) {
  let engine;
  try {
    engine = join(dirname(nodeModule.createRequire(join(root, 'package.json')).resolve('node/package.json')), 'bin', 'node');
  } catch {
    engine = undefined;
  }
  if (!engine || !existsSync(engine)) {
    process.stderr.write(
      `fata: error FATA_NO_ENGINE: Fata runs on its pinned engine, Node ${pinned} (the npm package \`node\`), ` +
        `which is not installed beside ${root}; run \`npm install\` there (npm must be allowed to run the \`node\` package's ` +
        `install script, as package.json's allowScripts does), or run fata with Node ${pinned}.\n`,
    );
    return 1;
  }
  // Said once per machine Node: which engine runs, and that this one only started it.
  const stamp = join(root, 'node_modules', '.cache', 'fata', `engine-note-${process.version}`);
  if (!existsSync(stamp)) {
    process.stderr.write(
      `fata: note: running on Fata's pinned engine, Node ${pinned} (${engine}), not this shell's Node ${process.version}\n`,
    );
    try {
      mkdirSync(dirname(stamp), { recursive: true });
      writeFileSync(stamp, `${engine}\n`);
    } catch {
      /* a read-only install: the note comes again next time */
    }
  }
  const { spawnSync } = await import('node:child_process'); // Only here: not on the pinned engine's start path.
  const r = spawnSync(engine, [fileURLToPath(import.meta.url), ...args], { stdio: 'inherit' });
  if (r.signal) process.kill(process.pid, r.signal);
  return r.status ?? 255;
}

// Installed as a package, Fata's sources sit under node_modules, where Node does not strip types (a service's
// config imports 'fata'): this strips them.
await import('../src/host/register.mjs');
const { hostEntry } = await import('../src/host/bundle-cache.mjs');
const { cli } = await import(pathToFileURL(await hostEntry('cli')).href);
// Exit with the unikernel's code even if host handles (a socket-mode UDP socket) are still open.
process.exit(await cli(process.argv.slice(2)));
