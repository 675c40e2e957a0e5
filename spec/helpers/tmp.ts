// Temporary directories for tests, removed after the run.
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const made: string[] = [];

/** A fresh temporary directory (deleted at process exit). */
export function tmpDir(prefix = 'uol-test-'): string {
  const d = mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(d);
  return d;
}

process.on('exit', () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});
