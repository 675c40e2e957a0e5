/**
 * Registry of benchmark suites (one import per area).
 */
import type { BenchSuite } from './types.js';
import { mapsSuite } from './maps.js';
import { dataSuite } from './data.js';
import { optimizeSuite } from './optimize.js';
import { backbonesSuite } from './backbones.js';

/** All suites, in run order (one per line). */
export const suites: BenchSuite[] = [
  mapsSuite,
  dataSuite,
  optimizeSuite,
  backbonesSuite,
];
