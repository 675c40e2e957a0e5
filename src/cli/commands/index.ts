/**
 * The list of `uol` commands (one module each).
 *
 * Command modules must stay light at import time (no TF.js, codecs or models: they import what they run inside their
 * handlers), so that `uol --help` and usage errors answer at once; spec/cli-acceptance.spec.ts checks it.
 */
import type { Argv, CommandModule } from 'yargs';
import { EXAMPLES } from '../examples.js';
import type { GlobalArgs } from '../context.js';
import { infoCommand } from './info.js';
import { fitCommand } from './fit.js';
import { localizeCommand } from './localize.js';
import { mergeCommand } from './merge.js';
import { explainCommand } from './explain.js';
import { dataCommand } from './data.js';
import { benchCommand } from './bench.js';
import { ablateCommand } from './ablate.js';
import { demoCommand } from './demo.js';
import { convertCommand } from './convert.js';
import { convertClassifierCommand } from './convert-classifier.js';
import { fetchCommand } from './fetch.js';
import { extractCommand } from './extract.js';
import { evaluateCommand } from './evaluate.js';
import { reproduceCommand } from './reproduce.js';
import { serveCommand } from './serve.js';

/** Every command, in help order (one per line). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- yargs command modules differ in their argument types
export const commands: CommandModule<GlobalArgs, any>[] = [
  demoCommand,
  infoCommand,
  fitCommand,
  localizeCommand,
  evaluateCommand,
  mergeCommand,
  ablateCommand,
  reproduceCommand,
  explainCommand,
  extractCommand,
  convertCommand,
  convertClassifierCommand,
  fetchCommand,
  dataCommand,
  benchCommand,
  serveCommand,
];

/** `c` with its examples (cli/examples.ts) added to its help. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- as `commands`
export function withExamples(c: CommandModule<GlobalArgs, any>): CommandModule<GlobalArgs, any> {
  const name = String(c.command).split(' ')[0]!;
  const ex = EXAMPLES[name];
  if (!ex?.length) return c;
  const builder = c.builder;
  return {
    ...c,
    builder: (y: Argv<GlobalArgs>) => {
      const built = typeof builder === 'function' ? builder(y) : builder ? y.options(builder) : y;
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- yargs builders return differently typed Argv
      const argv = built as Argv<any>;
      for (const [cmd, what] of ex) argv.example(cmd, what);
      return argv;
    },
  };
}
