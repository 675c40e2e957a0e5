/**
 * The `uol` command line. Each command lives in its own module under cli/commands; this file wires them into yargs
 * and maps errors to exit codes (2: bad usage or input, 1: runtime failure).
 *
 * Every check of the command line runs before a command does any work: unknown flags (with the nearest known one),
 * missing required flags, values that are not numbers, and whether the output path can be written. Failures print
 * one line (`uol: error: …` for usage, `uol: failed: …` otherwise; the stack only with `--debug`); with `--json`,
 * stdout also carries one `{"error": {code, exitCode, message, flag?, file?}}` object, so that a caller reading
 * stdout always gets exactly one JSON object, the result or the error.
 */
import yargs, { type Argv } from 'yargs';
import { accessSync, constants as fsConstants, existsSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { isUsageError, UsageError } from '../util/errors.js';
import { VERSION } from '../version.js';
import { globalOptions, settleDisplay } from './context.js';
import { commands, withExamples } from './commands/index.js';

/** Damerau–Levenshtein (optimal string alignment) distance. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The known name closest to `word` (case-insensitive), when close enough to be a typo. */
export function nearest(word: string, known: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(w, k.toLowerCase());
    if (d < bestD) [best, bestD] = [k, d];
  }
  if (best === undefined) return undefined;
  const limit = Math.max(1, Math.floor(Math.max(w.length, best.length) / 3));
  if (bestD <= limit) return best;
  // `--thresh` for `--threshold`, `--tresh` too: a (mistyped) abbreviation of exactly one known flag
  if (w.length < 3) return undefined;
  const prefixed = known.filter((k) => editDistance(w, k.toLowerCase().slice(0, w.length)) <= (w.length >= 5 ? 2 : w.length >= 4 ? 1 : 0));
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

/** Options yargs knows in the command being parsed (captured before validation). */
interface ParseState {
  keys: string[];
  aliases: string[];
  numbers: string[];
  command?: string;
}

/** The raw text the user typed for `--key` (`--key=v` or `--key v`), for error messages. */
function rawValue(argv: string[], key: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const t = argv[i]!;
    if (t === `--${key}`) return argv[i + 1];
    if (t.startsWith(`--${key}=`)) return t.slice(key.length + 3);
  }
  return undefined;
}

/** True when the user typed `--name` (or `--name=…`, `--no-name`, `-n`). */
function typedAsFlag(argv: string[], name: string): boolean {
  return argv.some((t) => t === `--${name}` || t.startsWith(`--${name}=`) || t === `--no-${name}` || t === `-${name}` || t.startsWith(`-${name}=`));
}

/** Flags typed in `argv` (before a `--`) that the command being parsed does not declare. */
function unknownFlags(argv: string[], st: ParseState): string[] {
  const known = new Set<string>();
  for (const k of [...st.keys, ...st.aliases]) {
    known.add(k);
    known.add(k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()));
  }
  const out: string[] = [];
  for (const t of argv) {
    if (t === '--') break;
    const m = /^--(?:no-)?([^=]+)/.exec(t);
    if (!m) continue;
    const name = t.startsWith('--no-') && !known.has(t.slice(2).split('=')[0]!) ? m[1]! : t.slice(2).split('=')[0]!;
    if (!known.has(name) && !out.includes(name)) out.push(name);
  }
  return out;
}

/**
 * Rewrites a yargs validation message into one that names the flag and what to do. Unknown flags come first (yargs
 * reports a missing required flag before them, which hides the typo that caused it).
 */
function usageFailure(msg: string, argv: string[], st: ParseState, commandNames: string[]): { message: string; flag?: string } {
  const help = st.command ? ` — \`uol ${st.command} --help\` lists the flags` : '';
  const typos = st.command ? unknownFlags(argv, st) : [];
  if (typos.length) {
    const parts = typos.map((n) => {
      const guess = nearest(n, st.keys);
      return `unknown flag --${n}${guess ? ` (did you mean --${guess}?)` : ''}`;
    });
    return { message: `${parts.join('; ')}${help}`, flag: `--${typos[0]}` };
  }
  const unknown = /^Unknown arguments?: (.*)$/s.exec(msg);
  if (unknown) {
    const names = unknown[1]!.split(', ').map((s) => s.trim());
    const parts: string[] = [];
    for (const n of names) {
      if (typedAsFlag(argv, n)) {
        const guess = nearest(n, st.keys);
        parts.push(`unknown flag --${n}${guess ? ` (did you mean --${guess}?)` : ''}`);
      } else if (st.command === undefined && argv.find((t) => !t.startsWith('-')) === n) {
        const guess = nearest(n, commandNames);
        parts.push(`unknown command "${n}"${guess ? ` (did you mean \`uol ${guess}\`?)` : ''}`);
      } else {
        parts.push(`unexpected argument "${n}"${names.length > 1 ? ' (a glob expanded by the shell? quote it)' : ''}`);
      }
    }
    return { message: `${parts.join('; ')}${help}` };
  }
  const missing = /^Missing required arguments?: (.*)$/s.exec(msg);
  if (missing) {
    const flags = missing[1]!.split(', ').map((n) => `--${n.trim()}`);
    return { message: `missing required ${flags.join(', ')}${help}`, flag: flags[0]! };
  }
  const invalid = /^Invalid values:\s*Argument: ([\w-]+), Given: (.*?), Choices: (.*)$/s.exec(msg);
  if (invalid) return { message: `--${invalid[1]} ${invalid[2]}: expected one of ${invalid[3]!.trim()}`, flag: `--${invalid[1]}` };
  return { message: msg };
}

/** Options whose value is a path the command writes. */
function isOutputKey(key: string): boolean {
  return key === 'out' || key.endsWith('-out');
}

/**
 * Checks before any work that `p` (a file or directory to be written) can be created: the nearest existing folder on
 * its path must be writable (and `p` itself when it exists).
 * @throws Error with `code` EACCES/EROFS/ENOTDIR and `path` set (exit 1, one line).
 */
export function checkWritable(flag: string, p: string): void {
  let at = path.resolve(p);
  const tried: string[] = [];
  for (;;) {
    if (existsSync(at)) break;
    const up = path.dirname(at);
    if (up === at) break;
    tried.push(at);
    at = up;
  }
  try {
    if (tried.length && !statSync(at).isDirectory()) {
      throw Object.assign(new Error(`${flag} ${p}: ${at} is a file, not a folder`), { code: 'ENOTDIR', path: at, checked: true });
    }
    accessSync(at, fsConstants.W_OK);
    if (!tried.length && !statSync(at).isDirectory()) accessSync(path.dirname(at), fsConstants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EACCES';
    if (code === 'ENOTDIR') throw e;
    const why = code === 'EROFS' ? 'the file system is read-only' : 'permission denied';
    throw Object.assign(new Error(`${flag} ${p}: cannot write in ${at} (${why}, ${code}); choose another ${flag}`), { code, path: at, checked: true });
  }
}

const WRITE_CODES: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a folder',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EMFILE: 'too many open files',
  ENOENT: 'no such file or folder',
};

/** Library option names whose flag is not their kebab-case (`batchSize` → `--batch-size` needs no entry). */
const OPTION_FLAGS: Readonly<Record<string, string>> = {};

/**
 * The flag of a library option: `batchSize` → `--batch-size` (or its {@link OPTION_FLAGS} entry); anything that is not
 * an option identifier (already a flag, a phrase) is returned unchanged.
 */
export function flagOf(option: string): string {
  if (!/^[a-z][A-Za-z0-9]*$/.test(option)) return option;
  return OPTION_FLAGS[option] ?? `--${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/**
 * A library error message as the CLI prints it: each option it names, written `` `name` `` (see
 * `UsageErrorOptions.options` in src/util/errors.ts), becomes the option's flag.
 */
export function withFlags(message: string, options: readonly string[]): string {
  let m = message;
  for (const o of options) m = m.split(`\`${o}\``).join(flagOf(o));
  return m;
}

/** What to print (and put in the JSON error) for a failure. */
export interface FailureReport {
  /** `usage` (exit 2), a Node errno code (`ENOSPC`, …) or `failed`. */
  code: string;
  exitCode: 1 | 2;
  message: string;
  flag?: string;
  file?: string;
}

/** Classifies an error thrown by a command. */
export function failureReport(e: unknown): FailureReport {
  if (isUsageError(e)) {
    const message = withFlags((e as Error).message, (e as { options?: readonly string[] }).options ?? []);
    const r: FailureReport = { code: 'usage', exitCode: 2, message };
    const flag = (e as { flag?: string }).flag ?? /^(--[a-z][\w-]*)/.exec(message)?.[1];
    if (flag) r.flag = flag;
    else {
      const file = /^([^\s:][^:\n]*?): /.exec(message);
      if (file && /[/\\.]/.test(file[1]!)) r.file = file[1]!;
    }
    return r;
  }
  const err = e instanceof Error ? (e as NodeJS.ErrnoException & { target?: string; checked?: boolean }) : undefined;
  const code = err?.code;
  if (err && code && WRITE_CODES[code]) {
    const file = err.target ?? err.path;
    const message = err.checked || !file ? err.message : `${file}: ${WRITE_CODES[code]} (${code})`;
    return { code, exitCode: 1, message, ...(file ? { file } : {}) };
  }
  if (err && code && /^(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH)$/.test(code)) return { code, exitCode: 1, message: err.message };
  return { code: 'failed', exitCode: 1, message: err ? err.message : String(e) };
}

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const json = argv.some((t) => t === '--json' || t === '--json=true');
  const debug = argv.some((t) => t === '--debug' || t === '--debug=true');
  const st: ParseState = { keys: [], aliases: [], numbers: [] };
  const commandNames = commands.map((c) => String(c.command).split(' ')[0]!);
  const y = globalOptions(yargs(argv))
    .scriptName('uol')
    .version(VERSION)
    .strict()
    .demandCommand(1, 'name a command (uol --help lists them)')
    .wrap(Math.min(120, process.stdout.columns ?? 100))
    // Before validation: remember the flags of the command being parsed, for "did you mean".
    .middleware(((a: { _: (string | number)[] }, inst: { getOptions(): { key: Record<string, unknown>; number: string[]; alias: Record<string, string[]> } }) => {
      const o = inst.getOptions();
      st.keys = Object.keys(o.key).filter((k) => k !== '$0' && !/[A-Z]/.test(k));
      st.numbers = o.number;
      st.aliases = Object.values(o.alias).flat();
      const first = a._[0];
      st.command = typeof first === 'string' && commandNames.includes(first) ? first : undefined;
    }) as unknown as (a: unknown) => void, true)
    // After validation, still before the command runs: numbers that are numbers, outputs that can be written.
    .middleware((a) => {
      for (const k of st.numbers) {
        const v = a[k];
        const bad = Array.isArray(v) ? v.some((x) => typeof x === 'number' && Number.isNaN(x)) : typeof v === 'number' && Number.isNaN(v);
        if (bad) throw new UsageError(`--${k} ${JSON.stringify(rawValue(argv, k) ?? '')}: expected a number`);
      }
      for (const [k, v] of Object.entries(a)) {
        if (isOutputKey(k) && typeof v === 'string' && v.length) checkWritable(`--${k}`, v);
      }
    })
    .fail((msg, err) => {
      if (err) throw err;
      const f = usageFailure(msg, argv, st, commandNames);
      throw Object.assign(new UsageError(f.message), f.flag ? { flag: f.flag } : {});
    })
    .exitProcess(false);
  for (const c of commands) y.command(withExamples(c));
  try {
    await (y as Argv).parseAsync();
  } catch (e) {
    settleDisplay();
    const r = failureReport(e);
    if (r.exitCode === 2) process.stderr.write(`uol: error: ${r.message}${r.code === 'usage' && /^unknown command|^name a command/.test(r.message) ? '\n(uol --help for usage)' : ''}\n`);
    else process.stderr.write(`uol: failed: ${r.message}\n${debug && e instanceof Error && e.stack ? `${e.stack}\n` : '(run again with --debug for the stack trace)\n'}`);
    if (json) process.stdout.write(JSON.stringify({ error: r }, null, 2) + '\n');
    return r.exitCode;
  }
  return 0;
}
