// A read-only --out and a full disk, end to end (issue: "Out of space and read-only --out"): the CLI in a child process
// writes into a small tmpfs mounted read-only or nearly full. Needs root and mount(2) (the CI machine has both); skips
// with the reason elsewhere. Checks: exit 1, one line naming the file and the fault, no stack trace without --debug, the
// read-only directory found before any work, nothing left behind.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runChild } from './helpers/child.js';
import { tmpDir } from './helpers/tmp.js';

const DATA = path.join(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'), 'data');

/** Mounts a tmpfs of `size` at `dir` (read-only with `ro`); returns why it cannot, or undefined. */
function mountTmpfs(dir: string, size: string, ro: boolean): string | undefined {
  mkdirSync(dir, { recursive: true });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}${ro ? ',ro' : ''}`, 'tmpfs', dir], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `mount -t tmpfs failed (${(r.stderr || String(r.error)).trim()})`;
}

function umount(dir: string): void {
  spawnSync('umount', [dir]);
  rmSync(dir, { recursive: true, force: true });
}

describe('file-system faults: read-only --out, no space left', function () {
  this.timeout(240_000);

  it('fit into a read-only file system stops before the fit, naming the folder and EROFS, without a stack trace', async function () {
    const mnt = path.join(tmpDir(), 'ro');
    const why = mountTmpfs(mnt, '64k', true);
    if (why) this.skip();
    try {
      const r = await runChild(['fit', '--images', path.join(DATA, '*.jpg'), '--out', path.join(mnt, 'p.json'), '--progress', 'none']);
      expect(r.code, r.stderr).to.equal(1);
      expect(r.stderr).to.match(new RegExp(`${mnt.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*read-only.*EROFS`));
      expect(r.stderr).to.not.match(/\n\s+at /, 'no stack trace without --debug');
      // Found before the work: no fit output (the fit would report its images) and nothing written.
      expect(r.stderr).to.not.match(/images|w\*/i);
      expect(readdirSync(mnt)).to.deep.equal([]);
      const d = await runChild(['fit', '--images', path.join(DATA, '*.jpg'), '--out', path.join(mnt, 'p.json'), '--progress', 'none', '--debug']);
      expect(d.code).to.equal(1);
      expect(d.stderr, 'stack with --debug').to.match(/\n\s+at /);
    } finally {
      umount(mnt);
    }
  });

  it('localize onto a full disk fails naming the file it could not write and ENOSPC, without a stack trace', async function () {
    const mnt = path.join(tmpDir(), 'full');
    const why = mountTmpfs(mnt, '16k', false);
    if (why) this.skip();
    try {
      const r = await runChild(['localize', path.join(DATA, '*.jpg'), '--caam', '--out', path.join(mnt, 'loc'), '--progress', 'none']);
      expect(r.code, r.stderr).to.equal(1);
      expect(r.stderr).to.match(new RegExp(`${mnt.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/loc/\\S+: no space left on the device \\(ENOSPC\\)`));
      expect(r.stderr).to.not.match(/\n\s+at /, 'no stack trace without --debug');
      // Atomic writes: no temp file is left beside the outputs.
      const left: string[] = [];
      const walk = (d: string) => {
        for (const e of readdirSync(d, { withFileTypes: true })) {
          if (e.isDirectory()) walk(path.join(d, e.name));
          else left.push(e.name);
        }
      };
      if (existsSync(path.join(mnt, 'loc'))) walk(path.join(mnt, 'loc'));
      expect(left.filter((f) => /\.tmp|\.part/.test(f)), 'temp files left').to.deep.equal([]);
    } finally {
      umount(mnt);
    }
  });
});
