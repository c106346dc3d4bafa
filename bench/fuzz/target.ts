/** What a fuzz target is: one untrusted input, its seeds, and an oracle that throws when something is wrong. */
export interface Target {
  readonly name: string;
  /** Inputs longer than this are cut (the mutator never makes them). */
  readonly maxLen: number;
  /** Seeds: RFC examples, captured frames, valid inputs built with the codecs (written to the corpus by --init-corpus). */
  seeds(): Uint8Array[];
  /**
   * Feeds one input; throws (an assertion, or the code's own exception) when the oracle fails. A target whose
   * code answers through Node's event loop (TLS) returns a promise, which rejects instead.
   */
  run(input: Uint8Array): void | Promise<void>;
  /** Totals the summary prints, such as frames dropped by reason, over every input so far. */
  counts?(): Readonly<Record<string, number>>;
}
