/**
 * Fata's service API: what `import … from 'fata'` gives a service.
 *
 * A service is a folder with a `config.ts` and a main module. `config.ts`
 * declares the service with {@link service}: its name, its devices by name
 * ({@link net}, {@link block}, {@link assets}) and its boot parameters
 * ({@link param}). The main module exports `main`, typed
 * {@link Main}`<typeof config>`, which receives:
 * - **devices**, by the names the config gave them: a {@link NetStack} for
 *   each `net()` (listeners: {@link NetStack.tcpListen} and
 *   {@link NetStack.udpBind}; {@link NetStack.tcpConnect}; name lookups),
 *   whose connections are {@link TcpStream}s; a {@link BlockDevice} for each
 *   `block()`; {@link Assets} for each `assets()`;
 * - **parameters**, typed by their declarations ({@link ParamsOf}), set by
 *   boot arguments (`--port=8080`; `IMAGE --help` lists them);
 * - a **{@link Context}**: logging ({@link Logger}, `ctx.log.info(event,
 *   fields)`, filtered by `--logs`), time ({@link Clock}) and timers
 *   (`ctx.sleep(ms)`), randomness ({@link Random}), and the boot arguments.
 *
 * `main` resolves with an exit code to stop; a server never resolves.
 * Everything else a service may use has its own entry point: `fata/http`,
 * `fata/tls`, `fata/duplex`, `fata/web-streams`, `fata/dns`, `fata/dhcp`,
 * `fata/storage`, `fata/net`, `fata/wire`, `fata/link`, `fata/sim`,
 * `fata/devices` (package.json `exports`). This page is generated from the
 * declarations by `npm run docs`.
 *
 * @module fata
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
  type DeviceOf,
  type DevicesOf,
  type Main,
  type MainResult,
  type NetDecl,
  type ParamSpec,
  type ParamOf,
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
export type { BlockDevice, Clock, DeviceResult, Random } from './devices/index.ts';
