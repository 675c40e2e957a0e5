/**
 * Error types. The CLI maps {@link UsageError} (bad usage or bad input: a file, key or value at fault) to exit code 2
 * and anything else to exit code 1.
 */

/** Options of a {@link UsageError}. */
export interface UsageErrorOptions {
  cause?: unknown;
  /**
   * The caller's options the message names, spelt as the library spells them (`threshold`, `batchSize`, `dataDir`)
   * and written in backquotes in the message ("\`batchSize\` 0: must be a positive integer"). A library has no
   * command-line flags: the CLI rewrites each quoted name into its flag (`--batch-size 0: …`) when it prints the error
   * (`withFlags` in src/cli/main.ts).
   */
  options?: readonly string[];
}

/**
 * Bad usage or bad input. The message names the file, key, option, line or value at fault. Exit code 2.
 * Library code names options, never CLI flags (see {@link UsageErrorOptions.options}).
 */
export class UsageError extends Error {
  /** Process exit code the CLI uses for this error. */
  readonly exitCode = 2;
  /** Option names the message mentions (see {@link UsageErrorOptions.options}); empty when none. */
  readonly options: readonly string[];
  constructor(message: string, options?: UsageErrorOptions) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'UsageError';
    this.options = options?.options ?? [];
  }
}

/** Wraps an error raised while reading `file`, keeping the cause; messages name the file first. */
export function inFile(file: string, e: unknown): UsageError {
  const msg = e instanceof Error ? e.message : String(e);
  const options = e instanceof UsageError ? e.options : [];
  if (msg.startsWith(file)) return e instanceof UsageError ? e : new UsageError(msg, { cause: e });
  return new UsageError(`${file}: ${msg}`, { cause: e, options });
}

/** True when `e` is a {@link UsageError} (also across module copies). */
export function isUsageError(e: unknown): e is UsageError {
  return e instanceof UsageError || (e instanceof Error && e.name === 'UsageError');
}
