/**
 * The website's metrics (`--metrics`): Prometheus's text format (version 0.0.4) at GET /.well-known/fata/metrics,
 * so that a scraper can alert before the certificate expires (`fata_website_certificate_expiry_timestamp_seconds -
 * time() < 14 * 86400`) or while ACME renewals fail (`fata_website_certificate_renewal_failing > 0`), the two
 * warnings the log gives as well. Only what the website knows about itself; the host's view (CPU, memory,
 * frames) is the daemon's.
 */
import type { HttpHandler, HttpResponse } from 'fata/http';

export const METRICS_PATH = '/.well-known/fata/metrics';

/** ACME renewals as the renewal loop counts them (acme.ts); absent without --acme-directory. */
export interface RenewalStats {
  /** Certificates renewed into the running server. */
  renewals: number;
  /** Renewal attempts that failed, in all. */
  failures: number;
  /** Failed attempts since the last success: above 0 while renewals fail. */
  failing: number;
}

export interface WebsiteMetrics {
  /** The certificate new HTTPS handshakes get: its expiry, and where it comes from (undefined: none yet, or no HTTPS). */
  readonly certificate?: () => { readonly validToMs: number; readonly source: 'acme' | 'files' } | undefined;
  readonly renewals?: RenewalStats;
  /** Responses by status code. */
  readonly responses: Map<number, number>;
}

function family(out: string[], name: string, type: 'gauge' | 'counter', help: string, samples: [string, number][]): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  for (const [labels, v] of samples) out.push(`${name}${labels} ${v}`);
}

/** The exposition: one HELP and TYPE line per family, then its samples. */
export function metricsText(m: WebsiteMetrics): string {
  const out: string[] = [];
  const c = m.certificate?.();
  if (c)
    family(
      out,
      'fata_website_certificate_expiry_timestamp_seconds',
      'gauge',
      'When the certificate new HTTPS handshakes get expires (Unix time).',
      [[`{source="${c.source}"}`, Math.floor(c.validToMs / 1000)]],
    );
  if (m.renewals) {
    family(out, 'fata_website_certificate_renewals_total', 'counter', 'ACME certificates renewed into the running server.', [
      ['', m.renewals.renewals],
    ]);
    family(out, 'fata_website_certificate_renewal_failures_total', 'counter', 'ACME renewal attempts that failed.', [
      ['', m.renewals.failures],
    ]);
    family(out, 'fata_website_certificate_renewal_failing', 'gauge', 'ACME renewal attempts failed since the last success (0: none).', [
      ['', m.renewals.failing],
    ]);
  }
  family(
    out,
    'fata_website_http_responses_total',
    'counter',
    'HTTP responses sent, by status code.',
    [...m.responses].sort(([a], [b]) => a - b).map(([code, n]) => [`{code="${code}"}`, n]),
  );
  return `${out.join('\n')}\n`;
}

/** Answers GET and HEAD of METRICS_PATH, and hands everything else to `next`. */
export function withMetrics(m: WebsiteMetrics, next: HttpHandler): HttpHandler {
  return (req, from) => {
    if ((req.target.split('?')[0] ?? '') !== METRICS_PATH) return next(req, from);
    if (req.method !== 'GET' && req.method !== 'HEAD') return { status: 405, headers: [['Allow', 'GET, HEAD']] } satisfies HttpResponse;
    return {
      status: 200,
      headers: [['Content-Type', 'text/plain; version=0.0.4; charset=utf-8']],
      body: new TextEncoder().encode(metricsText(m)),
    };
  };
}
