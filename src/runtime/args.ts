/**
 * Boot arguments, MirageOS-style: `--ipv4=10.0.0.2/24`, `--ipv4-gateway=…`,
 * `-l/--logs=LEVEL`, `--tcp-congestion=cubic|newreno|bbr`, `--help`, and the service's own `--NAME=VALUE`
 * (`--NAME VALUE` too; `--flag` / `--no-flag` for booleans). Bad input gives
 * a usage message that says what to do; nothing here throws.
 */
import { CONGESTION_NAMES, type CongestionName } from '../net/tcp/types.ts';
import { parseIpv4Address, parseIpv4Cidr } from '../wire/ipv4.ts';
import type { ParamSpec } from './config.ts';
import { LOG_LEVELS, type LogLevel } from './types.ts';

export interface BootArgs {
  readonly params: Record<string, string | number | boolean>;
  readonly ipv4: { address: number; prefixLen: number } | undefined;
  readonly ipv4Text: string | undefined;
  readonly gateway: number | undefined;
  /** Resolvers from --dns (they replace what DHCP offers). */
  readonly dns: readonly number[] | undefined;
  /** TCP's congestion control for every connection of the stack (--tcp-congestion; CUBIC when unset). */
  readonly tcpCongestion: CongestionName | undefined;
  readonly logs: LogLevel;
  readonly help: boolean;
}

export function parseBootArgs(argv: readonly string[], schema: Record<string, ParamSpec>): BootArgs | { error: string } {
  const params: Record<string, string | number | boolean> = {};
  for (const [k, s] of Object.entries(schema)) params[k] = s.default;
  let ipv4: BootArgs['ipv4'], ipv4Text: string | undefined, gateway: number | undefined, dns: number[] | undefined;
  let tcpCongestion: CongestionName | undefined;
  let logs: LogLevel = 'info',
    help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') {
      help = true;
      continue;
    }
    let name: string, value: string | undefined;
    if (a === '-l') {
      name = 'logs';
      value = argv[++i];
    } else if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      value = eq < 0 ? undefined : a.slice(eq + 1);
    } else {
      return { error: `unexpected argument '${a}': boot arguments look like --name=value` };
    }
    const needValue = (): string | { error: string } => {
      if (value !== undefined) return value;
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('-')) return { error: `--${name} needs a value` };
      i++;
      return next;
    };
    if (name === 'ipv4') {
      const v = needValue();
      if (typeof v !== 'string') return v;
      const c = parseIpv4Cidr(v);
      if (!c) return { error: `--ipv4=${v} is not an address with a prefix; write it like --ipv4=10.0.0.2/24` };
      ipv4 = c;
      ipv4Text = v;
    } else if (name === 'ipv4-gateway') {
      const v = needValue();
      if (typeof v !== 'string') return v;
      gateway = parseIpv4Address(v);
      if (gateway === undefined) return { error: `--ipv4-gateway=${v} is not an IPv4 address; write it like --ipv4-gateway=10.0.0.1` };
    } else if (name === 'dns') {
      const v = needValue();
      if (typeof v !== 'string') return v;
      dns = v
        .split(',')
        .map((x) => parseIpv4Address(x.trim()))
        .filter((x): x is number => x !== undefined);
      if (dns.length !== v.split(',').length)
        return { error: `--dns=${v} must be IPv4 addresses separated by commas, like --dns=10.0.0.1` };
    } else if (name === 'tcp-congestion') {
      const v = needValue();
      if (typeof v !== 'string') return v;
      if (!(CONGESTION_NAMES as readonly string[]).includes(v))
        return { error: `--tcp-congestion=${v} is not a congestion control; use one of ${CONGESTION_NAMES.join(', ')}` };
      tcpCongestion = v as CongestionName;
    } else if (name === 'logs') {
      const v = needValue();
      if (typeof v !== 'string') return v;
      if (!(LOG_LEVELS as readonly string[]).includes(v))
        return { error: `--logs=${v} is not a level; use one of ${LOG_LEVELS.join(', ')}` };
      logs = v as LogLevel;
    } else {
      const bare = name.startsWith('no-') && schema[name.slice(3)]?.kind === 'bool' ? name.slice(3) : name;
      const spec = schema[bare];
      if (!spec) return { error: `unknown boot argument --${name}; --help lists the ones this image takes` };
      if (spec.kind === 'bool') {
        if (value === undefined) params[bare] = bare === name;
        else if (value === 'true' || value === 'false') params[bare] = value === 'true';
        else return { error: `--${name}=${value}: a switch is true or false` };
      } else {
        const v = needValue();
        if (typeof v !== 'string') return v;
        if (spec.kind === 'int') {
          const n = Number(v);
          if (!Number.isInteger(n) || (spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
            return {
              error: `--${name}=${v} must be a whole number${spec.min !== undefined ? ` from ${spec.min}` : ''}${spec.max !== undefined ? ` to ${spec.max}` : ''}`,
            };
          }
          params[bare] = n;
        } else {
          params[bare] = v;
        }
      }
    }
  }
  return { params, ipv4, ipv4Text, gateway, dns, tcpCongestion, logs, help };
}

/** The text `IMAGE --help` prints. */
export function helpText(name: string, schema: Record<string, ParamSpec>, hasNet: boolean): string {
  const rows: [string, string][] = [];
  if (hasNet) {
    rows.push(['--ipv4=ADDRESS/PREFIX', "this unikernel's IPv4 address (default: ask DHCP, with --net=direct)"]);
    rows.push(['--ipv4-gateway=ADDRESS', 'the router for off-link destinations']);
    rows.push(['--dns=ADDRESS[,ADDRESS]', 'DNS resolvers for name lookups (default: those DHCP gives)']);
    rows.push([
      '--tcp-congestion=NAME',
      `TCP congestion control with --net=direct: ${CONGESTION_NAMES.join(', ')} (default cubic; bbr paces and holds up on lossy paths)`,
    ]);
  }
  rows.push(['-l, --logs=LEVEL', `log level: ${LOG_LEVELS.join(', ')} (default info)`]);
  for (const [k, s] of Object.entries(schema)) {
    const value = { int: 'N', string: 'TEXT', file: 'FILE', bool: '' }[s.kind];
    const shape = s.kind === 'bool' ? `--${k}, --no-${k}` : `--${k}=${value}`;
    // An empty default says nothing; the help text says what empty means.
    rows.push([shape, s.default === '' ? s.help : `${s.help} (default ${JSON.stringify(s.default)})`]);
  }
  const w = Math.max(...rows.map((r) => r[0].length));
  return (
    `usage: fata run [TENDER FLAGS] [--] ${name}.fata [BOOT ARGUMENTS]\n\nboot arguments:\n` +
    rows.map(([a, b]) => `  ${a.padEnd(w)}  ${b}`).join('\n') +
    '\n'
  );
}
