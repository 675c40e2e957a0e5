/**
 * Defaults of the optimisation path, in a module with no TF.js import (the CLI shows them in `uol fit --help`
 * without loading an engine). Re-exported by rps/optimize.ts.
 */
import type { LossName } from './loss-names.js';

/** Defaults of the optimisation path (documented in the README and `uol fit --help`). */
export const OPTIMIZE_DEFAULTS = {
  loss: 'logistic' as LossName,
  lambda: 1e-2,
  scale: 1,
  kappa: 1,
  maxPasses: 100,
  tol: 1e-5,
  topK: 32,
  memory: 10,
} as const;
