/**
 * The list of `uol` commands (one module each).
 */
import type { CommandModule } from 'yargs';
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
];
