/**
 * The `uol` command line. Each command lives in its own module under cli/commands; this file wires them into yargs
 * and maps errors to exit codes (2: bad usage or input, 1: runtime failure).
 */
import yargs from 'yargs';
import { isUsageError } from '../util/errors.js';
import { VERSION } from '../version.js';
import { globalOptions } from './context.js';
import { commands } from './commands/index.js';

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  let usageFailure: string | undefined;
  const y = globalOptions(yargs(argv))
    .scriptName('uol')
    .version(VERSION)
    .strict()
    .demandCommand(1, 'name a command (uol --help lists them)')
    .recommendCommands()
    .wrap(Math.min(120, process.stdout.columns ?? 100))
    .fail((msg, err) => {
      if (err) throw err;
      usageFailure = msg;
    })
    .exitProcess(false);
  for (const c of commands) y.command(c);
  try {
    await y.parseAsync();
  } catch (e) {
    if (isUsageError(e)) {
      process.stderr.write(`uol: error: ${(e as Error).message}\n`);
      return 2;
    }
    process.stderr.write(`uol: failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 1;
  }
  if (usageFailure !== undefined) {
    process.stderr.write(`uol: error: ${usageFailure}\n(uol --help for usage)\n`);
    return 2;
  }
  return 0;
}
