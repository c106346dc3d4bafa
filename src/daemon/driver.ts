/**
 * A scheduler's task driver, as a prototype (docs/scale-out.md): the calls a Nomad task driver or a containerd shim
 * makes, each on the daemon's protocol, with the rules that let a scheduler retry any of them. Names are the
 * scheduler's; a start is idempotent by (name, image hash); the scheduler restarts, so tasks run with restart
 * `never`; a stop of what is already gone succeeds. No scheduler's own wire format is spoken here: a plugin or shim
 * wraps these calls.
 */
import { readFileSync } from 'node:fs';
import { readImage } from '../build/image.ts';
import { FataError } from '../host/errors.ts';
import { call, type Endpoint, request } from './client.ts';
import type { CreateSpec } from './protocol.ts';

/** What the scheduler gives for one task. */
export interface TaskSpec {
  /** The scheduler's name for it (`nomad-<alloc>-<task>`): a retried start finds what an earlier one made. */
  readonly name: string;
  /** The image's path on this host (the scheduler's artifact). */
  readonly image: string;
  readonly nets?: readonly { readonly dev: string; readonly bridge: string; readonly mac?: string }[];
  readonly blocks?: readonly { readonly dev: string; readonly volume: string }[];
  readonly memMb?: number;
  readonly bootArgs?: readonly string[];
}

export interface TaskState {
  readonly name: string;
  readonly state: string;
  readonly sha256: string;
  /** How its last run ended: the exit code (255 for an abort or a signal) and why. */
  readonly exit?: { readonly code: number | null; readonly reason: string };
}

interface InfoReply {
  name: string;
  state: string;
  image: { sha256: string };
  lastExit?: { code: number | null; reason: string };
}

const stateOf = (i: InfoReply): TaskState => ({
  name: i.name,
  state: i.state,
  sha256: i.image.sha256,
  ...(i.lastExit ? { exit: { code: i.lastExit.code, reason: i.lastExit.reason } } : {}),
});

export class TaskDriver {
  readonly #to: Endpoint;

  constructor(to: Endpoint) {
    this.#to = to;
  }

  /** `StartTask` / `Create`+`Start`: made and started, or found already made from the same image (a retry). */
  async start(spec: TaskSpec): Promise<TaskState & { existed: boolean }> {
    const image = readImage(readFileSync(spec.image), spec.image);
    if ('error' in image) throw new FataError('FATA_BAD_IMAGE', image.error);
    const create: CreateSpec = {
      name: spec.name,
      image: spec.image,
      nets: spec.nets ?? [],
      blocks: spec.blocks ?? [],
      memMb: spec.memMb,
      restart: { kind: 'never' },
      bootArgs: spec.bootArgs ?? [],
      sha256: image.sha256,
    };
    try {
      return { ...stateOf((await request(this.#to, { op: 'create', spec: create })) as InfoReply), existed: false };
    } catch (e) {
      if ((e as FataError).code !== 'FATA_EXISTS') throw e;
      const there = await this.inspect(spec.name);
      if (there?.sha256 !== image.sha256)
        throw new FataError(
          'FATA_TASK_CONFLICT',
          `'${spec.name}' exists with image ${there?.sha256.slice(0, 12) ?? '?'}, not ${image.sha256.slice(0, 12)}; stop it first or name the task apart`,
        );
      return { ...there, existed: true };
    }
  }

  /** `InspectTask` / `State`, and `RecoverTask` after the driver restarted: undefined when there is no such task. */
  async inspect(name: string): Promise<TaskState | undefined> {
    try {
      return stateOf((await request(this.#to, { op: 'info', name })) as InfoReply);
    } catch (e) {
      if ((e as FataError).code === 'FATA_NO_UNIKERNEL') return undefined;
      throw e;
    }
  }

  /**
   * `WaitTask` / `Wait`: resolves with the task's state once its run has ended (stopped or failed), or undefined when
   * it is destroyed meanwhile. Follows its console, whose `[fata] exited` note comes as the run ends.
   */
  async wait(name: string): Promise<TaskState | undefined> {
    const ended = (s: TaskState | undefined): boolean => !s || s.state === 'stopped' || s.state === 'failed';
    const now = await this.inspect(name);
    if (ended(now)) return now;
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (f: () => void): void => {
        if (!settled) {
          settled = true;
          follow.close();
          f();
        }
      };
      const check = (): void => {
        this.inspect(name).then(
          (s) => ended(s) && settle(() => resolve(s)),
          (e) => settle(() => reject(e)),
        );
      };
      const follow = call(this.#to, { op: 'console', name, follow: true, lines: 0 }, (e) => {
        const ev = e as { gone?: boolean; stream?: string; text?: string };
        if (ev.gone) settle(() => resolve(undefined));
        else if (ev.stream === 'fata' && ev.text?.startsWith('exited')) check();
      });
      // Subscribed: check once more (the run may have ended before); refused as gone: destroyed meanwhile.
      follow.result.then(check, (e) => settle(() => ((e as FataError).code === 'FATA_NO_UNIKERNEL' ? resolve(undefined) : reject(e))));
      follow.closed.then(() => settle(() => resolve(undefined)));
    });
  }

  /** `StopTask` / `Kill`+`Delete`: destroyed (engine stopped, tap removed); a task already gone is success too. */
  async stop(name: string): Promise<{ existed: boolean }> {
    try {
      await request(this.#to, { op: 'destroy', name });
      return { existed: true };
    } catch (e) {
      if ((e as FataError).code === 'FATA_NO_UNIKERNEL') return { existed: false };
      throw e;
    }
  }
}
