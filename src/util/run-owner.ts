/**
 * Ownership of an output directory by one run identity. The first run that writes into a directory records its kind
 * and fingerprint (a hash of everything that determines its results) in `.uol-run.json`; a later run with another
 * fingerprint is refused before it changes anything, so a directory never ends up holding one run's boxes.json and
 * another run's maps. A rerun with the same arguments (to resume or to redo) is allowed.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { UsageError } from './errors.js';
import { writeFileAtomicSync } from './fs.js';
import { readJsonBounded } from './safe-read.js';

/** Name of the ownership record inside an output directory. */
export const RUN_OWNER_FILE = '.uol-run.json';

/** True when `dir` holds a file (at any depth) other than `except` at its top. */
function holdsFiles(dir: string, except: string): boolean {
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop()!;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (d === dir && e.name === except) continue;
      if (e.isDirectory()) stack.push(path.join(d, e.name));
      else return true;
    }
  }
  return false;
}

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
    throw new UsageError(`${dir}: ${why}; nothing was changed. Choose another \`out\`, or delete the directory to replace its contents`, { options: ['out'] });
  };
  if (existsSync(file)) {
    let rec: Partial<OwnerRecord> | undefined;
    try {
      rec = readJsonBounded(file, 'run ownership record') as Partial<OwnerRecord>;
    } catch {
      rec = undefined;
    }
    if (!rec || rec.format !== 'uol-run-owner' || typeof rec.fingerprint !== 'string') refuse(`${RUN_OWNER_FILE} is not a uol run record`);
    if (rec!.kind === kind && rec!.fingerprint === fingerprint) return;
    // A run that failed before writing any output (e.g. a mistyped argument) leaves only the record: nothing to protect.
    if (holdsFiles(dir, RUN_OWNER_FILE)) {
      if (rec!.kind !== kind) refuse(`holds the output of a \`uol ${String(rec!.kind)}\` run`);
      refuse(`holds the output of another \`uol ${kind}\` run (other inputs or options)`);
    }
  }
  const found = existsSync(file)
    ? []
    : outputs.filter((f) => {
        const p = path.join(dir, f);
        return existsSync(p) && (!statSync(p).isDirectory() || holdsFiles(p, ''));
      });
  if (found.length) refuse(`holds ${found.join(', ')} of an earlier run that is not recorded as this one`);
  const rec: OwnerRecord = { format: 'uol-run-owner', version: 1, kind, fingerprint };
  writeFileAtomicSync(file, JSON.stringify(rec) + '\n');
}

/**
 * Fingerprint of a command's parsed arguments (yargs' kebab-case keys; camelCase aliases, `out` and output-only flags
 * such as `progress`/`json` left out), for commands whose result is determined by their arguments.
 */
export function argsFingerprint(args: Record<string, unknown>, drop: readonly string[] = ['out', 'progress', 'json', 'debug', 'quiet']): string {
  const keys = Object.keys(args)
    .filter((k) => k !== '_' && k !== '$0' && !/[A-Z]/.test(k) && !drop.includes(k))
    .sort();
  return createHash('sha256')
    .update(JSON.stringify(keys.map((k) => [k, args[k]])))
    .digest('hex');
}
