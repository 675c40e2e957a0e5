/**
 * Helpers shared by the dataset readers: strict line parsing with file:line errors, existence checks.
 */
import { existsSync, statSync } from 'node:fs';
import { UsageError } from '../../util/errors.js';
import { readTextBounded } from '../../util/safe-read.js';

/** A non-blank line of a text file with its 1-based number. */
export interface Line {
  no: number;
  text: string;
}

/** Reads a text file's non-blank lines (CRLF tolerated). @throws UsageError naming the file when it is missing. */
export function readLines(file: string): Line[] {
  const text = readTextBounded(file, 'textBytes', '');
  const out: Line[] = [];
  text.split('\n').forEach((raw, i) => {
    const t = raw.replace(/\r$/, '');
    if (t.trim().length) out.push({ no: i + 1, text: t });
  });
  return out;
}

/** Splits a line into exactly `n` fields (or at least `n` with `rest`: the last field keeps the remainder). */
export function fields(file: string, l: Line, sep: ',' | ' ', n: number, what: string, rest = false): string[] {
  const parts = sep === ' ' ? l.text.trim().split(/\s+/) : l.text.split(',');
  if (rest && parts.length > n) parts.splice(n - 1, parts.length - n + 1, parts.slice(n - 1).join(' '));
  if (parts.length !== n) throw new UsageError(`${file}:${l.no}: expected ${what}, got "${l.text}"`);
  return parts;
}

/** Parses a number field; integer when `int`. */
export function num(file: string, l: Line, s: string, what: string, int = false): number {
  const v = Number(s);
  if (s.trim() === '' || !Number.isFinite(v) || (int && !Number.isInteger(v))) throw new UsageError(`${file}:${l.no}: ${what} "${s}" is not ${int ? 'an integer' : 'a number'}`);
  return v;
}

/** Throws a UsageError unless `p` exists (file or folder). */
export function mustExist(p: string, what: string, isDir = false, option?: string): void {
  const options = option ? [option] : [];
  if (!existsSync(p)) throw new UsageError(`${p}: ${what} not found`, { options });
  if (isDir && !statSync(p).isDirectory()) throw new UsageError(`${p}: ${what} is not a folder`, { options });
}

/** The first of `candidates` that exists, else undefined. */
export function firstExisting(candidates: readonly string[]): string | undefined {
  return candidates.find((c) => existsSync(c));
}

/** Throws a UsageError for an unknown split. */
export function checkSplit(format: string, split: string, splits: readonly string[]): void {
  if (!splits.includes(split)) throw new UsageError(`\`split\` ${split}: ${format} has splits ${splits.join(', ')}`, { options: ['split'] });
}
