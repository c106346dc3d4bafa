/**
 * Test helper: a real git server in a test's namespace (Debian's git
 * http-backend behind nginx through fcgiwrap, smart HTTP and HTTPS) and the
 * git commands a test pushes with. Used by the website's `--remote` and the
 * DNS primary's `--zones-remote` tests.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { netnsSkipReason, type TapNamespace } from './netns.ts';
import { selfSigned } from './pki.ts';

export const GIT_BACKEND = '/usr/lib/git-core/git-http-backend';

/** Why a git server cannot run here, or undefined when it can. */
export function gitServerSkipReason(): string | undefined {
  return (
    netnsSkipReason(['curl', 'git', 'nginx', 'fcgiwrap']) ??
    (existsSync(GIT_BACKEND) ? undefined : `needs ${GIT_BACKEND} (apt-get install git)`)
  );
}

/** `git ARGS` in `cwd` with a fixed identity and no system or user configuration; its output. */
export function git(cwd: string, ...args: string[]): string {
  const r = spawnSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@example.org',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@example.org',
      GIT_CONFIG_NOSYSTEM: '1',
      HOME: cwd,
    },
  });
  assert.equal(r.status, 0, `git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/** A bare repository DIR/repos/NAME.git on branch main and a work tree DIR/work whose origin it is. */
export function initRepo(dir: string, name: string): { repos: string; work: string } {
  const repos = join(dir, 'repos');
  const work = join(dir, 'work');
  mkdirSync(repos);
  mkdirSync(work);
  git(repos, 'init', '-q', '--bare', '-b', 'main', `${name}.git`);
  git(work, 'init', '-q', '-b', 'main');
  git(work, 'remote', 'add', 'origin', join(repos, `${name}.git`));
  return { repos, work };
}

/** Commits `files` (path → bytes) in `work` at `date` and pushes to origin's main; returns the commit. */
export function commit(work: string, files: Record<string, Uint8Array | string>, date: string): string {
  for (const [p, b] of Object.entries(files)) writeFileSync(join(work, p), b);
  git(work, 'add', '-A');
  process.env.GIT_COMMITTER_DATE = date;
  git(work, 'commit', '-q', '-m', `at ${date}`, '--date', date);
  delete process.env.GIT_COMMITTER_DATE;
  git(work, 'push', '-q', 'origin', 'main');
  return git(work, 'rev-parse', 'HEAD');
}

/**
 * nginx with git http-backend through fcgiwrap on `address`:8088 (and HTTPS on 8443, a self-signed certificate
 * DIR/git-cert.pem for `address`) inside the namespace, serving `repos` under /git/. Each request is a line of
 * DIR/access.log: `METHOD PATH STATUS BYTES_SENT` (gitRequests reads them).
 */
export async function gitServer(ns: TapNamespace, dir: string, repos: string, address = '10.0.0.1'): Promise<void> {
  const sock = join(dir, 'fcgi.sock');
  ns.start(['fcgiwrap', '-s', `unix:${sock}`]);
  selfSigned(dir, 'git', 'git-test', `IP:${address}`);
  for (let i = 0; i < 200 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 25));
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off; worker_processes 1; user root; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 64; }
http { log_format fata '$request_method $uri $status $bytes_sent'; access_log ${dir}/access.log fata; client_body_temp_path ${dir}/body; fastcgi_temp_path ${dir}/fastcgi;
  proxy_temp_path ${dir}/proxy; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  server { listen ${address}:8088; listen ${address}:8443 ssl;
    ssl_certificate ${dir}/git-cert.pem; ssl_certificate_key ${dir}/git-key.pem;
    location ~ ^/git(/.*)$ {
      include /etc/nginx/fastcgi_params;
      fastcgi_param SCRIPT_FILENAME ${GIT_BACKEND};
      fastcgi_param GIT_PROJECT_ROOT ${repos};
      fastcgi_param GIT_HTTP_EXPORT_ALL "";
      fastcgi_param PATH_INFO $1;
      fastcgi_pass unix:${sock};
    } } }`,
  );
  ns.start(['nginx', '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')]);
  await ns.listening(8088);
}

/** The requests the server of `dir` has answered so far: method, path, status and the bytes it sent. */
export function gitRequests(dir: string): { method: string; path: string; status: number; bytes: number }[] {
  const file = join(dir, 'access.log');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [method = '', path = '', status = '0', bytes = '0'] = l.split(' ');
      return { method, path, status: Number(status), bytes: Number(bytes) };
    });
}
