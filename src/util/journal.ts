/**
 * An append-only JSON-lines journal of finished work, so a long run that is killed loses nothing: the first line names
 * the run (a fingerprint of everything that determines the results), every later line is one finished entry, written
 * with one `write` call as soon as the entry is final. A rerun with the same fingerprint reads the entries back and
 * skips them; a rerun with another fingerprint is refused (the journal belongs to another run).
 *
 * A kill can tear only the last line (no newline yet): it is dropped and the file truncated to its last whole line
 * before appending. Entries are not fsynced one by one (a kill of the process does not lose written data; a power cut
 * may lose the tail, which is then simply redone).
 *
 * Written here rather than taken from npm: the job is ~80 lines over node:fs, and the journal libraries found are
 * databases (level, lowdb) or loggers (pino) that neither read back nor truncate a torn tail.
 */
import { withTarget } from './fs.js';
import { closeSync, existsSync, openSync, rmSync, truncateSync, writeSync } from 'node:fs';
import { UsageError } from './errors.js';
import { readTextBounded } from './safe-read.js';

/** The header line. */
interface Header {
  journal: string;
  version: 1;
  fingerprint: string;
}

/** Result of {@link Journal.open}. */
export interface OpenedJournal<T> {
  journal: Journal<T>;
  /** Entries finished by earlier runs, in write order. */
  done: T[];
  /** True when a torn last line was dropped. */
  repaired: boolean;
}

/** An open journal (see the module doc). Close it, then `remove` it once the run's final outputs are written. */
export class Journal<T> {
  private fd: number | undefined;

  private constructor(
    readonly file: string,
    fd: number,
  ) {
    this.fd = fd;
  }

  /**
   * Opens `file` for the run named by `kind` + `fingerprint`, creating it if missing.
   * @throws UsageError when the file is not a journal of `kind`, or belongs to a run with another fingerprint
   *   (the message names the file and says what to do).
   */
  static open<T>(file: string, kind: string, fingerprint: string): OpenedJournal<T> {
    const done: T[] = [];
    let repaired = false;
    if (!existsSync(file)) {
      const fd = openSync(file, 'wx');
      const header: Header = { journal: kind, version: 1, fingerprint };
      writeSync(fd, JSON.stringify(header) + '\n');
      return { journal: new Journal<T>(file, fd), done, repaired };
    }
    const text = readTextBounded(file, 'jsonBytes', 'journal');
    const lines = text.split('\n');
    let header: Partial<Header> | undefined;
    try {
      header = JSON.parse(lines[0] ?? '') as Partial<Header>;
    } catch {
      header = undefined;
    }
    if (!header || header.journal !== kind || header.version !== 1 || typeof header.fingerprint !== 'string') {
      throw new UsageError(`${file}: not a ${kind} journal (version 1); remove it or choose another output directory`);
    }
    if (header.fingerprint !== fingerprint) {
      throw new UsageError(
        `${file}: an unfinished run with other inputs or options left this journal; rerun with the same arguments to resume it, or remove the file (or choose another \`out\`) to start over`,
        { options: ['out'] },
      );
    }
    // Whole lines end with '\n'; text after the last '\n' is a torn line (the kill hit a write).
    let whole = text.slice(0, text.lastIndexOf('\n') + 1);
    if (whole.length < text.length) repaired = true;
    const body = whole.split('\n').slice(1, -1);
    for (let i = 0; i < body.length; i++) {
      try {
        done.push(JSON.parse(body[i]!) as T);
      } catch {
        if (i !== body.length - 1) throw new UsageError(`${file}: line ${i + 2} is not valid JSON; the journal is corrupt, remove it to start over`);
        whole = [lines[0], ...body.slice(0, i)].join('\n') + '\n';
        repaired = true;
      }
    }
    if (repaired) truncateSync(file, Buffer.byteLength(whole));
    return { journal: new Journal<T>(file, openSync(file, 'a')), done, repaired };
  }

  /** Appends one finished entry (one write call). */
  append(entry: T): void {
    if (this.fd === undefined) throw new Error(`${this.file}: journal is closed`);
    try {
      writeSync(this.fd, JSON.stringify(entry) + '\n');
    } catch (e) {
      throw withTarget(e, this.file);
    }
  }

  /** Closes the file (idempotent). */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  /** Closes and deletes the journal (after the final outputs are safely written). */
  remove(): void {
    this.close();
    rmSync(this.file, { force: true });
  }
}
