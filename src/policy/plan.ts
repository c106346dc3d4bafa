/**
 * What `fata policy apply` does to converge the host on a checked policy:
 * the difference between the file and what the daemon runs, as a list of
 * steps, each one daemon request (or one `fata net create`). Pure. The
 * order keeps every step within the quotas and every name free when it is
 * used: networks first; then what goes (unikernels not declared, and those
 * that changed in more than their image, which are created again); then
 * volumes not declared; then new volumes; then image updates; then creates.
 * Applying the plan and planning again gives no step: a crash between two
 * steps leaves a state the next plan starts from.
 */
import type { CreateSpec, RestartPolicy } from '../daemon/protocol.ts';
import type { HostNetwork } from '../hostnet/net.ts';
import { type DaemonView, type RunningUnikernel, sameNetwork } from './check.ts';
import type { HostPolicy, NetworkDecl, UnikernelDecl, VolumeDecl } from './policy.ts';

export type Step =
  | { readonly op: 'net-create'; readonly network: NetworkDecl; readonly repair: boolean }
  | { readonly op: 'destroy'; readonly name: string; readonly why: string }
  | { readonly op: 'volume-destroy'; readonly name: string }
  | { readonly op: 'volume-create'; readonly volume: VolumeDecl }
  | { readonly op: 'update'; readonly name: string; readonly image: string; readonly sha256: string; readonly from: string }
  | { readonly op: 'create'; readonly spec: CreateSpec; readonly why: string };

const restartText = (r: RestartPolicy): string =>
  r.kind === 'on-failure' ? `on-failure ${[...r.codes].sort((a, b) => a - b).join(',')}` : r.kind;

/** What differs between a running unikernel and its declaration, but the image: each a short phrase. */
export function differences(run: RunningUnikernel, u: UnikernelDecl): string[] {
  const out: string[] = [];
  const nets = (xs: readonly { dev: string; bridge: string; mac?: string }[], macs: boolean): string =>
    [...xs]
      .sort((a, b) => a.dev.localeCompare(b.dev))
      .map((n) => `${n.dev}=${n.bridge}${macs && n.mac ? `@${n.mac}` : ''}`)
      .join(' ');
  const wantMacs = u.nets.some((n) => n.mac);
  const runNets = run.nets.map((n) => ({ ...n, mac: u.nets.find((d) => d.dev === n.dev)?.mac ? n.mac : undefined }));
  if (nets(runNets, wantMacs) !== nets(u.nets, wantMacs))
    out.push(`nets ${nets(runNets, wantMacs) || '-'} → ${nets(u.nets, wantMacs) || '-'}`);
  const blocks = (xs: readonly { dev: string; volume: string }[]): string =>
    [...xs]
      .sort((a, b) => a.dev.localeCompare(b.dev))
      .map((b) => `${b.dev}=${b.volume}`)
      .join(' ');
  if (blocks(run.blocks) !== blocks(u.blocks)) out.push(`blocks ${blocks(run.blocks) || '-'} → ${blocks(u.blocks) || '-'}`);
  if (run.memMb !== u.memMb) out.push(`memory ${run.memMb} → ${u.memMb} MB`);
  if (restartText(run.restartPolicy) !== restartText(u.restart))
    out.push(`restart ${restartText(run.restartPolicy)} → ${restartText(u.restart)}`);
  if (run.maxRestarts !== u.maxRestarts) out.push(`maxRestarts ${run.maxRestarts} → ${u.maxRestarts}`);
  if (JSON.stringify(run.bootArgs) !== JSON.stringify(u.bootArgs))
    out.push(`boot arguments '${run.bootArgs.join(' ')}' → '${u.bootArgs.join(' ')}'`);
  return out;
}

/** The create request for a declaration; a MAC the file leaves out is the one the unikernel had, if it ran before. */
function specOf(u: UnikernelDecl, sha256: string, before: RunningUnikernel | undefined): CreateSpec {
  return {
    name: u.name,
    image: u.image,
    sha256,
    nets: u.nets.map((n) => {
      const mac = n.mac ?? before?.nets.find((b) => b.dev === n.dev)?.mac;
      return { dev: n.dev, bridge: n.bridge, ...(mac ? { mac } : {}) };
    }),
    blocks: u.blocks.map((b) => ({ dev: b.dev, volume: b.volume })),
    memMb: u.memMb,
    restart: u.restart,
    maxRestarts: u.maxRestarts,
    bootArgs: [...u.bootArgs],
  };
}

/**
 * The steps from what runs to what `p` declares. `sha256` is each image's hash as checked; `networks` the Fata
 * networks there are; `bridgeUp` whether a network's bridge exists (a network whose state was written but whose
 * bridge is missing — a create cut short — is made again).
 */
export function plan(
  p: HostPolicy,
  daemon: DaemonView,
  sha256: ReadonlyMap<string, string>,
  networks: readonly HostNetwork[],
  bridgeUp: (name: string) => boolean,
): Step[] {
  const steps: Step[] = [];
  for (const n of p.networks) {
    const have = networks.find((x) => x.name === n.name);
    if (!have) steps.push({ op: 'net-create', network: n, repair: false });
    else if (sameNetwork(n, have) && !bridgeUp(n.name)) steps.push({ op: 'net-create', network: n, repair: true });
  }
  const declared = new Map(p.unikernels.map((u) => [u.name, u]));
  const creates: Step[] = [];
  const updates: Step[] = [];
  for (const run of daemon.unikernels) {
    const u = declared.get(run.name);
    if (!u) {
      steps.push({ op: 'destroy', name: run.name, why: 'not declared' });
      continue;
    }
    const want = sha256.get(u.name)!;
    const diff = differences(run, u);
    if (diff.length > 0) {
      if (run.image.sha256 !== want) diff.unshift(`image ${run.image.sha256.slice(0, 12)} → ${want.slice(0, 12)}`);
      const why = diff.join('; ');
      steps.push({ op: 'destroy', name: run.name, why: `to create it again: ${why}` });
      creates.push({ op: 'create', spec: specOf(u, want, run), why: `again: ${why}` });
    } else if (run.image.sha256 !== want) {
      updates.push({ op: 'update', name: u.name, image: u.image, sha256: want, from: run.image.sha256 });
    }
  }
  const wanted = new Set(p.volumes.map((v) => v.name));
  for (const v of daemon.volumes) if (!wanted.has(v.name)) steps.push({ op: 'volume-destroy', name: v.name });
  for (const v of p.volumes) if (!daemon.volumes.some((x) => x.name === v.name)) steps.push({ op: 'volume-create', volume: v });
  const running = new Set(daemon.unikernels.map((r) => r.name));
  for (const u of p.unikernels)
    if (!running.has(u.name)) creates.push({ op: 'create', spec: specOf(u, sha256.get(u.name)!, undefined), why: 'declared' });
  return [...steps, ...updates, ...creates];
}

const mib = (b: number): string => (b % (1 << 30) === 0 ? `${b / (1 << 30)} GiB` : `${+(b / (1 << 20)).toFixed(1)} MiB`);

/** One line per step, as `--dry-run` prints them and apply reports them. */
export function describeStep(s: Step): string {
  switch (s.op) {
    case 'net-create': {
      const n = s.network;
      const what = [n.cidr, n.nat ? 'nat' : 'no nat', ...(n.dhcp ? [`dhcp${n.dhcp === true ? '' : ` ${n.dhcp}`}`] : [])].join(', ');
      return `${s.repair ? 'make again' : 'create'} network ${n.name} (${what})${s.repair ? ': its bridge is missing' : ''}`;
    }
    case 'destroy':
      return `destroy ${s.name} (${s.why})`;
    case 'volume-destroy':
      return `destroy volume ${s.name} (not declared; its data goes)`;
    case 'volume-create':
      return `create volume ${s.volume.name} (${mib(s.volume.bytes)})`;
    case 'update':
      return `update ${s.name}: image ${s.from.slice(0, 12)} → ${s.sha256.slice(0, 12)} (${s.image})`;
    case 'create': {
      const c = s.spec;
      const devs = [
        ...c.nets.map((n) => `${n.dev}=${n.bridge}${n.mac ? `@${n.mac}` : ''}`),
        ...c.blocks.map((b) => `${b.dev}=${b.volume}`),
      ];
      return `create ${c.name} (${s.why}): ${c.image} ${c.sha256?.slice(0, 12)}, ${c.memMb} MB${devs.length ? `, ${devs.join(' ')}` : ''}${c.bootArgs.length ? `, -- ${c.bootArgs.join(' ')}` : ''}`;
    }
  }
}
