/**
 * Loss names, in a module with no TF.js import (the CLI declares `--loss` without loading an engine).
 */

/** Names of the supported losses. */
export const LOSS_NAMES = ['linear', 'logistic'] as const;
/** One of {@link LOSS_NAMES}. */
export type LossName = (typeof LOSS_NAMES)[number];
