/**
 * Registry of benchmark suites (one import per area).
 */
import type { BenchSuite } from './types.js';
import { mapsSuite } from './maps.js';
import { matmulSuite } from './matmul.js';

/** All suites, in run order. */
export const suites: BenchSuite[] = [mapsSuite, matmulSuite];
