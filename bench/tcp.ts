/**
 * Bulk TCP throughput: Fata (examples/echo sealed on spt, on a tap) against
 * the kernel's own TCP between two namespaces over a veth pair, in the same
 * run, with the same client (nc) and the same amount of data. Reports Gbit/s,
 * the ratio to the kernel, and the sealed engine's CPU seconds per GB.
 * Needs root; makes its namespaces and removes them.
 *
 *   node bench/tcp.ts [MB]     (default 500)
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { emit, needRoot, sh } from './lib.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const FATA = join(ROOT, 'bin/fata.mjs');
const MB = Number(process.argv[2] ?? 500);
needRoot('tcp');
const timed = (argv: string[]): number => {
  const t0 = process.hrtime.bigint();
  sh(argv);
  return Number(process.hrtime.bigint() - t0) / 1e9;
};
const gbps = (seconds: number): number => (MB * 8e6) / seconds / 1e9;
const cpuSeconds = (pid: number): number => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks (USER_HZ = 100)
};
const id = process.pid;
const A = `fata-bench-a-${id}`,
  B = `fata-bench-b-${id}`,
  F = `fata-bench-f-${id}`;
const results: string[] = [];
try {
  // The kernel's TCP: A ⇄ B over veth.
  sh(['ip', 'netns', 'add', A]);
  sh(['ip', 'netns', 'add', B]);
  sh(['ip', 'link', 'add', 'va', 'netns', A, 'type', 'veth', 'peer', 'name', 'vb', 'netns', B]);
  sh(['ip', '-n', A, 'addr', 'add', '10.9.0.1/24', 'dev', 'va']);
  sh(['ip', '-n', B, 'addr', 'add', '10.9.0.2/24', 'dev', 'vb']);
  for (const [ns, dev] of [
    [A, 'va'],
    [B, 'vb'],
  ] as const) {
    sh(['ip', '-n', ns, 'link', 'set', dev, 'up']);
    sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
  }
  const sink = spawn('ip', ['netns', 'exec', B, 'sh', '-c', 'nc -l -p 5001 > /dev/null'], { stdio: 'ignore' });
  spawnSync('sleep', ['0.5']);
  const kernel = timed(['ip', 'netns', 'exec', A, 'sh', '-c', `head -c ${MB}000000 /dev/zero | nc -N 10.9.0.2 5001`]);
  sink.kill();
  results.push(`kernel TCP over veth (nc → nc): ${gbps(kernel).toFixed(2)} Gbit/s`);

  // Fata: the sealed echo service on a tap.
  sh([process.execPath, FATA, 'build', '-t', 'spt', 'examples/echo']);
  sh(['ip', 'netns', 'add', F]);
  sh(['ip', '-n', F, 'link', 'set', 'lo', 'up']);
  sh(['ip', 'netns', 'exec', F, 'ip', 'tuntap', 'add', 'dev', 'tap0', 'mode', 'tap']);
  sh(['ip', '-n', F, 'addr', 'add', '10.0.0.1/24', 'dev', 'tap0']);
  sh(['ip', '-n', F, 'link', 'set', 'tap0', 'up']);
  const tender = spawn(
    'ip',
    [
      'netns',
      'exec',
      F,
      process.execPath,
      FATA,
      'run',
      '--net:service=tap0',
      join(ROOT, 'examples/echo/dist/echo.fata'),
      '--ipv4=10.0.0.2/24',
      '-l',
      'warn',
    ],
    { stdio: 'ignore' },
  );
  spawnSync('sleep', ['2']);
  const engine = Number(
    sh(['pgrep', '-P', String(tender.pid)])
      .trim()
      .split('\n')[0],
  );
  let cpu0 = cpuSeconds(engine);
  const discard = timed(['ip', 'netns', 'exec', F, 'sh', '-c', `head -c ${MB}000000 /dev/zero | nc -N 10.0.0.2 9`]);
  const discardCpu = cpuSeconds(engine) - cpu0;
  cpu0 = cpuSeconds(engine);
  const chargen = timed(['ip', 'netns', 'exec', F, 'sh', '-c', `nc 10.0.0.2 19 | head -c ${MB}000000 > /dev/null`]);
  const chargenCpu = cpuSeconds(engine) - cpu0;
  tender.kill('SIGTERM');
  const gb = MB / 1000;
  const kg = gbps(kernel);
  emit({
    bench: 'tcp',
    metric: 'discard, kernel → Fata',
    value: gbps(discard),
    unit: 'Gbit/s',
    reference: kg,
    referenceName: 'kernel TCP over veth',
    floor: 0.3,
  });
  emit({
    bench: 'tcp',
    metric: 'chargen, Fata → kernel',
    value: gbps(chargen),
    unit: 'Gbit/s',
    reference: kg,
    referenceName: 'kernel TCP over veth',
    floor: 0.3,
  });
  emit({ bench: 'tcp', metric: 'discard, engine CPU per GB', value: discardCpu / gb, unit: 'CPU s/GB' });
  emit({ bench: 'tcp', metric: 'chargen, engine CPU per GB', value: chargenCpu / gb, unit: 'CPU s/GB' });
  results.push(
    `Fata discard (kernel → Fata): ${gbps(discard).toFixed(2)} Gbit/s = ${(gbps(discard) / gbps(kernel)).toFixed(2)}× the kernel, ${(discardCpu / gb).toFixed(2)} CPU s/GB in the engine`,
  );
  results.push(
    `Fata chargen (Fata → kernel): ${gbps(chargen).toFixed(2)} Gbit/s = ${(gbps(chargen) / gbps(kernel)).toFixed(2)}× the kernel, ${(chargenCpu / gb).toFixed(2)} CPU s/GB in the engine`,
  );
} finally {
  spawnSync('ip', ['netns', 'exec', F, 'ip', 'tuntap', 'del', 'dev', 'tap0', 'mode', 'tap']);
  for (const ns of [A, B, F]) spawnSync('ip', ['netns', 'del', ns]);
}
process.stdout.write(`bulk TCP, ${MB} MB each, engine ${process.version}\n${results.map((r) => '  ' + r).join('\n')}\n`);
