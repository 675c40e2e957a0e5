/**
 * Ownership of an output directory by one run identity. The first run that writes into a directory records its kind
 * and fingerprint (a hash of everything that determines its results) in `.uol-run.json`; a later run with another
 * fingerprint is refused before it changes anything, so a directory never ends up holding one run's boxes.json and
 * another run's maps. A rerun with the same arguments (to resume or to redo) is allowed.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { UsageError } from './errors.js';
import { writeFileAtomicSync } from './fs.js';
import { readJsonBounded } from './safe-read.js';

/** Name of the ownership record inside an output directory. */
export const RUN_OWNER_FILE = '.uol-run.json';

/** The ownership record. */
interface OwnerRecord {
  format: 'uol-run-owner';
  version: 1;
  /** Command that owns the directory, e.g. `localize`. */
  kind: string;
  /** Fingerprint of its inputs and options. */
  fingerprint: string;
}

/**
 * Claims `dir` for the run `kind` + `fingerprint`, creating the record when the directory holds no run yet.
 * @param outputs files (relative to `dir`) whose presence without a record means another run finished there before
 *   records existed (also refused).
 * @throws UsageError naming the directory when it belongs to another run.
 */
export function claimOutDir(dir: string, kind: string, fingerprint: string, outputs: string[] = []): void {
  const file = path.join(dir, RUN_OWNER_FILE);
  const refuse = (why: string): never => {
    throw new UsageError(`${dir}: ${why}; nothing was changed. Choose another --out, or delete the directory to replace its contents`);
  };
  if (existsSync(file)) {
    let rec: Partial<OwnerRecord> | undefined;
    try {
      rec = readJsonBounded(file, 'run ownership record') as Partial<OwnerRecord>;
    } catch {
      rec = undefined;
    }
    if (!rec || rec.format !== 'uol-run-owner' || typeof rec.fingerprint !== 'string') refuse(`${RUN_OWNER_FILE} is not a uol run record`);
    if (rec!.kind !== kind) refuse(`holds the output of a \`uol ${String(rec!.kind)}\` run`);
    if (rec!.fingerprint !== fingerprint) refuse(`holds the output of another \`uol ${kind}\` run (other inputs or options)`);
    return;
  }
  const found = outputs.filter((f) => existsSync(path.join(dir, f)));
  if (found.length) refuse(`holds ${found.join(', ')} of an earlier run that is not recorded as this one`);
  const rec: OwnerRecord = { format: 'uol-run-owner', version: 1, kind, fingerprint };
  writeFileAtomicSync(file, JSON.stringify(rec) + '\n');
}
