/**
 * Benchmark suite names, in a module that loads no suite (the CLI names them in `uol bench --help`). bench/index.ts
 * checks at load that they name exactly its suites.
 */

/** Names of the suites in bench/index.ts, in run order. */
export const SUITE_NAMES: readonly string[] = Object.freeze(['maps', 'boxes', 'data', 'optimize', 'backbones', 'matmul', 'localize']);
