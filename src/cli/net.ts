/** `fata net …`: host networks for unikernels (src/hostnet, docs/networking.md). */
import { FataError } from '../host/errors.ts';
import {
  createNetwork,
  defaultContext,
  destroyNetwork,
  dhcpKeeper,
  describe,
  forward,
  listNetworks,
  unforward,
} from '../hostnet/commands.ts';
import { stateDir } from '../hostnet/net.ts';

export const NET_USAGE = `usage: fata net create NAME --cidr=HOSTADDR/PREFIX [--nat] [--dhcp[=FIRST-LAST]]
       fata net list [--json]
       fata net destroy NAME [--force]
       fata net forward NAME tcp|udp HOSTPORT GUESTIP:PORT
       fata net unforward NAME tcp|udp HOSTPORT
  every command takes [--state-dir=DIR] (default $FATA_STATE_DIR, else /var/lib/fata) and needs root but list.
  create  a bridge NAME with the host's address HOSTADDR on it; --nat masquerades the subnet out of the host's
          other interfaces; --dhcp runs Fata's DHCP server on the bridge (default range .100-.199 of a /24).
          Creating an identical network again changes nothing.
  destroy removes all of it (refused while taps are attached, unless --force).
  forward DNAT from the host's own addresses, HOSTPORT, to a unikernel on the network.
  Attach a unikernel: make a tap on the bridge (ip tuntap add dev tap0 mode tap && ip link set tap0 master NAME up)
  and fata run --net:service=tap0 IMAGE (docs/networking.md).`;

function take(argv: string[], flag: string): string | undefined {
  const i = argv.findIndex((a) => a === flag || a.startsWith(`${flag}=`));
  if (i < 0) return undefined;
  const a = argv[i]!;
  argv.splice(i, 1);
  if (a.includes('=')) return a.slice(a.indexOf('=') + 1);
  return 'true';
}

export async function netCommand(args: readonly string[], say: (s: string) => void): Promise<number> {
  const argv = [...args];
  const sub = argv.shift();
  const state = stateDir(take(argv, '--state-dir'));
  const ctx = defaultContext(state, say);
  const json = take(argv, '--json') !== undefined;
  const left = (n: number): void => {
    const flag = argv.find((a) => a.startsWith('-'));
    if (flag) throw new FataError('FATA_NET_ARGS', `fata net ${sub}: unknown flag '${flag}'\n${NET_USAGE}`);
    if (argv.length !== n) throw new FataError('FATA_NET_ARGS', `fata net ${sub}: wrong number of arguments\n${NET_USAGE}`);
  };
  switch (sub) {
    case 'create': {
      const cidr = take(argv, '--cidr');
      const nat = take(argv, '--nat') !== undefined;
      const dhcp = take(argv, '--dhcp');
      left(1);
      if (!cidr || cidr === 'true')
        throw new FataError('FATA_NET_ARGS', `fata net create: --cidr=HOSTADDR/PREFIX is required\n${NET_USAGE}`);
      const dhcpRange = dhcp === 'true' ? true : dhcp;
      const r = await createNetwork(ctx, { name: argv[0]!, cidr, nat, dhcp: dhcpRange });
      const said = { exists: 'exists as asked; nothing changed', completed: 'completed as asked', created: 'created' };
      say(`net: ${argv[0]}: ${said[r]}`);
      return 0;
    }
    case 'destroy': {
      const force = take(argv, '--force') !== undefined;
      left(1);
      await destroyNetwork(ctx, argv[0]!, force);
      say(`net: ${argv[0]}: destroyed`);
      return 0;
    }
    case 'forward': {
      left(4);
      const f = forward(ctx, argv[0]!, argv[1]!, argv[2]!, argv[3]!);
      say(`net: ${argv[0]}: ${f.proto} port ${f.hostPort} → ${f.guest}:${f.guestPort}`);
      return 0;
    }
    case 'unforward':
      left(3);
      unforward(ctx, argv[0]!, argv[1]!, argv[2]!);
      say(`net: ${argv[0]}: ${argv[1]} port ${argv[2]} no longer forwarded`);
      return 0;
    case 'list': {
      left(0);
      const nets = listNetworks(ctx);
      if (json) process.stdout.write(`${JSON.stringify(nets, null, 2)}\n`);
      else
        for (const n of nets) {
          const fw = n.forwards.map((f) => `${f.proto}:${f.hostPort}→${f.guest}:${f.guestPort}`).join(' ');
          process.stdout.write(
            `${n.name}\t${n.subnet}\t${describe(n)}\tbridge ${n.bridgeUp ? 'up' : 'MISSING'}\ttaps ${n.attached.join(',') || '-'}` +
              `${n.dhcp ? `\tdhcp ${n.dhcpRunning ? 'running' : 'STOPPED'}` : ''}${fw ? `\tforwards ${fw}` : ''}\n`,
          );
        }
      return 0;
    }
    case 'dhcp-keeper': {
      const sep = argv.indexOf('--');
      return dhcpKeeper(argv[0]!, argv.slice(sep + 1));
    }
    default:
      throw new FataError('FATA_NET_ARGS', `${sub ? `fata net: unknown command '${sub}'\n` : ''}${NET_USAGE}`);
  }
}
