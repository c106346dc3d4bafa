/**
 * The one error type that reaches users: a stable `code` (`FATA_NO_IMAGE`,
 * `FATA_TAP_ATTACH`, …) to grep and script against, and a message that says
 * what to do. Thrown for start-up failures only; untrusted input never throws.
 * The whole rule (results for bytes and I/O, Node codes for service-facing
 * async calls, throws for programmer errors): docs/architecture.md, Errors.
 */
export class FataError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = 'FataError';
  }
}
