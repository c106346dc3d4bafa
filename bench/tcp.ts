/**
 * Bulk TCP throughput: Fata (examples/echo sealed on spt, on a tap) against
 * the kernel's own TCP between two namespaces over a veth pair, in the same
 * run, with the same client (nc) and the same amount of data. Reports Gbit/s,
 * the ratio to the kernel, and the sealed engine's CPU seconds per GB. Then
 * the same image on user-mode networking (--net:service=user, hostfwd from
 * 127.0.0.1) against the tap, and connection setup on each: a connection
 * opened and one byte echoed back, the median of 200 in a row.
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
/** Run by node -e: N sequential connections to HOST:PORT, each until its first byte is echoed; prints the median ms. */
const SETUP_CLIENT = `const net = require('node:net');
const [host, port, n] = process.argv.slice(1);
(async () => {
  const t = [];
  for (let i = 0; i < Number(n); i++) {
    const t0 = process.hrtime.bigint();
    await new Promise((ok, no) => {
      const s = net.connect(Number(port), host, () => s.write('x'));
      s.once('data', () => { s.destroy(); ok(); });
      s.once('error', no);
    });
    t.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  t.sort((a, b) => a - b);
  console.log(t[t.length >> 1]);
})();`;
const setupMs = (prefix: string[], host: string, port: number): number =>
  Number(sh([...prefix, process.execPath, '-e', SETUP_CLIENT, host, String(port), '200']).trim());
const id = process.pid;
const A = `fata-bench-a-${id}`,
  B = `fata-bench-b-${id}`,
  F = `fata-bench-f-${id}`;
const results: string[] = [];
let userTender: ReturnType<typeof spawn> | undefined;

/**
 * The same image on user-mode networking: no tap, the gateway in the tender (src/usernet), the host's
 * nc on 127.0.0.1 through hostfwd. CPU is the engine's and the tender's (the gateway's) together.
 */
function userMode(tapDiscard: number, tapChargen: number, tapSetup: number): void {
  const base = 17_000 + (id % 1000) * 3;
  const [p7, p9, p19] = [base, base + 1, base + 2];
  const fwd = [`${p7}-:7`, `${p9}-:9`, `${p19}-:19`].map((f) => `hostfwd=tcp:127.0.0.1:${f}`).join(',');
  userTender = spawn(
    process.execPath,
    [FATA, 'run', `--net:service=user,${fwd}`, join(ROOT, 'examples/echo/dist/echo.fata'), '-l', 'warn'],
    {
      stdio: 'ignore',
    },
  );
  spawnSync('sleep', ['3']);
  const engine = Number(
    sh(['pgrep', '-P', String(userTender.pid)])
      .trim()
      .split('\n')[0],
  );
  const both = (): number => cpuSeconds(engine) + cpuSeconds(userTender!.pid!);
  let cpu0 = both();
  const discard = timed(['sh', '-c', `head -c ${MB}000000 /dev/zero | nc -N 127.0.0.1 ${p9}`]);
  const discardCpu = both() - cpu0;
  cpu0 = both();
  const chargen = timed(['sh', '-c', `nc 127.0.0.1 ${p19} | head -c ${MB}000000 > /dev/null`]);
  const chargenCpu = both() - cpu0;
  const setup = setupMs([], '127.0.0.1', p7);
  userTender.kill('SIGTERM');
  userTender = undefined;
  const gb = MB / 1000;
  for (const [metric, v, ref] of [
    ['discard, host → Fata, user-mode', discard, tapDiscard],
    ['chargen, Fata → host, user-mode', chargen, tapChargen],
  ] as const)
    emit({ bench: 'tcp', metric, value: gbps(v), unit: 'Gbit/s', reference: gbps(ref), referenceName: 'the same on a tap', floor: 0.5 });
  emit({ bench: 'tcp', metric: 'connection setup, tap', value: tapSetup, unit: 'ms' });
  emit({ bench: 'tcp', metric: 'connection setup, user-mode', value: setup, unit: 'ms' });
  results.push(
    `user-mode discard (host → Fata): ${gbps(discard).toFixed(2)} Gbit/s = ${(tapDiscard / discard).toFixed(2)}× the tap, ${(discardCpu / gb).toFixed(2)} CPU s/GB engine + gateway`,
    `user-mode chargen (Fata → host): ${gbps(chargen).toFixed(2)} Gbit/s = ${(tapChargen / chargen).toFixed(2)}× the tap, ${(chargenCpu / gb).toFixed(2)} CPU s/GB engine + gateway`,
    `connection setup (connect, one byte echoed; median of 200): tap ${tapSetup.toFixed(3)} ms, user-mode ${setup.toFixed(3)} ms`,
  );
}
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
  const tapSetup = setupMs(['ip', 'netns', 'exec', F], '10.0.0.2', 7);
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
  userMode(discard, chargen, tapSetup);
} finally {
  spawnSync('ip', ['netns', 'exec', F, 'ip', 'tuntap', 'del', 'dev', 'tap0', 'mode', 'tap']);
  userTender?.kill('SIGTERM');
  for (const ns of [A, B, F]) spawnSync('ip', ['netns', 'del', ns]);
}
process.stdout.write(`bulk TCP, ${MB} MB each, engine ${process.version}\n${results.map((r) => '  ' + r).join('\n')}\n`);
