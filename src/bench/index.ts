/**
 * Registry of benchmark suites (one import per area).
 */
import type { BenchSuite } from './types.js';
import { mapsSuite } from './maps.js';
import { dataSuite } from './data.js';
import { optimizeSuite } from './optimize.js';
import { backbonesSuite } from './backbones.js';
import { boxesSuite } from './boxes.js';
import { matmulSuite } from './matmul.js';
import { localizeSuite } from './localize.js';
import { SUITE_NAMES } from './suite-names.js';

/** All suites, in run order (one per line). */
export const suites: BenchSuite[] = [
  mapsSuite,
  boxesSuite,
  dataSuite,
  optimizeSuite,
  backbonesSuite,
  matmulSuite,
  localizeSuite,
];

// suite-names.ts (light, for the CLI's help) must name exactly these suites.
if (suites.map((s) => s.name).join() !== SUITE_NAMES.join()) {
  throw new Error(`bench/suite-names.ts lists ${SUITE_NAMES.join(', ')} but the suites are ${suites.map((s) => s.name).join(', ')}`);
}
