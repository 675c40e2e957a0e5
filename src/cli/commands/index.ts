/**
 * The list of `uol` commands (one module each).
 */
import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../context.js';
import { infoCommand } from './info.js';
import { fitCommand } from './fit.js';
import { localizeCommand } from './localize.js';
import { mergeCommand } from './merge.js';
import { benchCommand } from './bench.js';
import { evaluateCommand } from './evaluate.js';

/** Every command, in help order. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- yargs command modules differ in their argument types
export const commands: CommandModule<GlobalArgs, any>[] = [infoCommand, fitCommand, localizeCommand, evaluateCommand, mergeCommand, benchCommand];
