/**
 * Package identity.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const pkg = require('../package.json') as { name: string; version: string };

/** Package version (semver). */
export const VERSION: string = pkg.version;
/** `uol-rps <version>`, recorded in every file this tool writes. */
export const TOOL = `${pkg.name} ${pkg.version}`;
