/**
 * Error types. The CLI maps {@link UsageError} (bad usage or bad input: a file, key or value at fault) to exit code 2
 * and anything else to exit code 1.
 */

/** Bad usage or bad input. The message names the file, key, line or value at fault. Exit code 2. */
export class UsageError extends Error {
  /** Process exit code the CLI uses for this error. */
  readonly exitCode = 2;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UsageError';
  }
}

/** Wraps an error raised while reading `file`, keeping the cause; messages name the file first. */
export function inFile(file: string, e: unknown): UsageError {
  const msg = e instanceof Error ? e.message : String(e);
  if (msg.startsWith(file)) return e instanceof UsageError ? e : new UsageError(msg, { cause: e });
  return new UsageError(`${file}: ${msg}`, { cause: e });
}

/** True when `e` is a {@link UsageError} (also across module copies). */
export function isUsageError(e: unknown): e is UsageError {
  return e instanceof UsageError || (e instanceof Error && e.name === 'UsageError');
}
