/** The device rule both tenders apply before anything runs. */
import type { Image } from '../build/image.ts';
import { FataError } from '../host/errors.ts';

/**
 * Every declared device attached, nothing attached that is not declared (Solo5's rule), except that a block
 * device the manifest marks `optional` may be left out (the engine then has no descriptor for it).
 */
export function checkDevices(
  image: Image,
  flags: { readonly nets: ReadonlyMap<string, unknown>; readonly blocks: ReadonlyMap<string, unknown> },
): void {
  const m = image.manifest;
  const declared = new Map(m.devices.map((d) => [d.name, d.type]));
  for (const [n] of flags.nets) {
    if (declared.get(n) !== 'net')
      throw new FataError(
        'FATA_UNDECLARED',
        `--net:${n} attaches a device the image does not declare; it declares: ${[...declared].map(([a, t]) => `${a} (${t})`).join(', ') || 'none'}`,
      );
    if (m.net === 'socket')
      throw new FataError(
        'FATA_SOCKET_MODE',
        `--net:${n}: this image uses host sockets (--net=socket); drop the flag or rebuild with --net=direct`,
      );
  }
  for (const [n] of flags.blocks) {
    if (declared.get(n) !== 'block')
      throw new FataError(
        'FATA_UNDECLARED',
        `--block:${n} attaches a device the image does not declare; it declares: ${[...declared].map(([a, t]) => `${a} (${t})`).join(', ') || 'none'}`,
      );
  }
  for (const d of m.devices) {
    if (d.type === 'net' && m.net === 'direct' && !flags.nets.has(d.name)) {
      throw new FataError(
        'FATA_NOT_ATTACHED',
        `net device '${d.name}' is declared but not attached; add --net:${d.name}=TAP (a tap made with 'ip tuntap add dev TAP mode tap')`,
      );
    }
    if (d.type === 'block' && !d.optional && !flags.blocks.has(d.name)) {
      throw new FataError('FATA_NOT_ATTACHED', `block device '${d.name}' is declared but not attached; add --block:${d.name}=FILE`);
    }
  }
}
