/**
 * Fata's service API: what `import … from 'fata'` gives a service. A
 * service's `config.ts` declares its devices and parameters with
 * `service`, `net`, `block`, `assets` and `param`; its `main` is typed
 * `Main<typeof config>` and receives the devices, the parameters and a
 * `Context` (logging, clock, randomness, sleep, argv). Everything else a
 * service may use has its own entry point: `fata/http`, `fata/tls`,
 * `fata/duplex`, `fata/web-streams`, `fata/dns`, `fata/dhcp`,
 * `fata/storage`, `fata/net`, `fata/wire`, `fata/link`, `fata/sim`,
 * `fata/devices` (package.json `exports`).
 *
 * @packageDocumentation
 */
export {
  assets,
  block,
  net,
  param,
  RESERVED_PARAMS,
  service,
  type AssetsDecl,
  type BlockDecl,
  type DeviceDeclaration,
  type DevicesOf,
  type Main,
  type MainResult,
  type NetDecl,
  type ParamSpec,
  type ParamsOf,
  type ServiceConfig,
} from './runtime/config.ts';
export {
  LOG_LEVELS,
  type Assets,
  type Context,
  type Logger,
  type LogLevel,
  type NetStack,
  type TcpServer,
  type TcpStream,
  type UdpEndpoint,
  type UdpMessage,
} from './runtime/types.ts';
export type { ByteStream, PeerStream } from './net/stream.ts';
export type { BlockDevice, Clock, Random } from './devices/index.ts';
