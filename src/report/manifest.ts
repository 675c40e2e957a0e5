/**
 * Run manifests: every run writes `manifest.json` beside its outputs — the command, versions, backend, timing, and
 * hashes of its inputs — so a result can be traced to exactly what produced it.
 */
import { statSync } from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { writeFileAtomicSync, sha256FileSync } from '../util/fs.js';
import { TOOL } from '../version.js';
import type { EngineInfo } from '../engine/backend.js';

/** One hashed input. */
export interface InputHash {
  /** What it is (predictor, metadata, images, …). */
  role: string;
  /** Path as given. */
  path: string;
  /** sha256 of the content (files), or of the sorted listing `name\tsize` lines (image sets, `kind: listing`). */
  sha256: string;
  kind: 'file' | 'listing';
  /** Number of files for a listing. */
  count?: number;
}

/** The manifest document. */
export interface RunManifest {
  tool: string;
  command: string;
  argv: string[];
  cwd: string;
  started: string;
  finished: string;
  seconds: number;
  engine: { backend: string; native: boolean; versions: Record<string, string> } | undefined;
  inputs: InputHash[];
  outputs: string[];
  /** Free-form summary numbers (images processed, skipped, metrics). */
  summary?: Record<string, unknown>;
}

/** Hash of a file's content. */
export function hashFile(role: string, file: string): InputHash {
  return { role, path: file, sha256: sha256FileSync(file), kind: 'file' };
}

/**
 * Hash of a set of files by listing (relative name and size, sorted): cheap for large image sets; content hashes of
 * images are not computed (a changed image of equal size is not detected — documented trade-off).
 */
export function hashListing(role: string, root: string, files: string[]): InputHash {
  const lines = files
    .map((f) => {
      let size = -1;
      try {
        size = statSync(f).size;
      } catch {
        /* missing files are reported by the loader */
      }
      return `${path.relative(root, f)}\t${size}`;
    })
    .sort();
  return { role, path: root, sha256: createHash('sha256').update(lines.join('\n')).digest('hex'), kind: 'listing', count: files.length };
}

/** Tracks a run and writes its manifest. */
export class RunRecorder {
  private readonly t0 = Date.now();
  readonly inputs: InputHash[] = [];
  readonly outputs: string[] = [];

  constructor(private readonly engine: EngineInfo | undefined, private readonly argv: string[] = process.argv.slice(2)) {}

  /** Writes `<dir>/<name>` (default manifest.json; atomically) and returns its path. */
  write(dir: string, summary?: Record<string, unknown>, name = 'manifest.json'): string {
    const m: RunManifest = {
      tool: TOOL,
      command: ['uol', ...this.argv].join(' '),
      argv: this.argv,
      cwd: process.cwd(),
      started: new Date(this.t0).toISOString(),
      finished: new Date().toISOString(),
      seconds: (Date.now() - this.t0) / 1000,
      engine: this.engine ? { backend: this.engine.backend, native: this.engine.native.enabled, versions: this.engine.versions } : undefined,
      inputs: this.inputs,
      outputs: this.outputs.map((o) => path.relative(dir, o) || o),
    };
    if (summary) m.summary = summary;
    const file = path.join(dir, name);
    writeFileAtomicSync(file, JSON.stringify(m, null, 2) + '\n');
    return file;
  }
}
