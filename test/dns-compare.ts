/**
 * Test helper: the same questions asked of two authoritative servers with
 * kdig, in one kdig run per server (kdig takes many queries at once), and
 * the answers compared in RFC 3597 generic form (`+generic`), so RDATA is
 * compared octet for octet whatever kdig knows of the type.
 */

export interface Answer {
  readonly question: string;
  readonly status: string;
  /** kdig's flags line: `qr aa rd`, … */
  readonly flags: string;
  readonly edns: string;
  readonly answer: readonly string[];
  /** Only the SOA records of the authority section (the NS records NSD adds to positive answers are left out). */
  readonly authoritySoa: readonly string[];
}

/** Splits kdig's output for many queries into one answer each. */
export function parseKdig(out: string): Answer[] {
  const blocks = out.split(';; ->>HEADER<<-').slice(1);
  return blocks.map((b) => {
    const section = (title: string): string[] => {
      const m = new RegExp(`;; ${title} SECTION:\\n([\\s\\S]*?)(?:\\n\\n|$)`).exec(b);
      return m ? m[1]!.split('\n').map((l) => l.replace(/\s+/g, ' ').trim()) : [];
    };
    return {
      question: section('QUESTION')[0]?.replace(/^;; /, '') ?? '',
      status: /status: (\w+)/.exec(b)?.[1] ?? '?',
      flags: /;; Flags: ([^;]*);/.exec(b)?.[1]?.trim() ?? '?',
      edns: /;; Version: (\d+); flags: ([^;]*);/.exec(b)?.slice(1).join(' ') ?? '',
      answer: section('ANSWER'),
      authoritySoa: section('AUTHORITY').filter((l) => / TYPE6 /.test(l)),
    };
  });
}

/** kdig's `name type` pairs for every owner × type in an AXFR listing (generic form), plus the extra ones given. */
export function questionsFrom(axfr: string, extra: readonly [string, string][]): [string, string][] {
  const qs = new Map<string, [string, string]>();
  for (const line of axfr.split('\n')) {
    const m = /^(\S+)\s+\d+\s+IN\s+TYPE(\d+)\s/.exec(line);
    if (!m) continue;
    for (const t of [`TYPE${m[2]}`, 'A', 'TXT', 'TYPE65535']) qs.set(`${m[1]} ${t}`.toLowerCase(), [m[1]!, t]);
  }
  for (const q of extra) qs.set(q.join(' ').toLowerCase(), q);
  return [...qs.values()];
}

/** The differences between two servers' answers to the same questions, one line each. */
export function differences(a: readonly Answer[], b: readonly Answer[], names: [string, string]): string[] {
  const out: string[] = [];
  if (a.length !== b.length) out.push(`${names[0]} answered ${a.length} questions, ${names[1]} ${b.length}`);
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i]!,
      y = b[i]!;
    for (const k of ['question', 'status', 'flags', 'edns', 'answer', 'authoritySoa'] as const) {
      const [p, q] = [JSON.stringify(x[k]), JSON.stringify(y[k])];
      if (p !== q) out.push(`${x.question}: ${k}: ${names[0]} ${p} / ${names[1]} ${q}`);
    }
  }
  return out;
}
