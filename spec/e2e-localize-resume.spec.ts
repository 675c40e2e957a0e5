// Long localize runs lose nothing (end-to-end issue: "robust over hours-long runs"): `uol localize` journals every
// finished image; killed with SIGKILL at a random point and rerun with the same arguments, it skips what was done and
// writes the same boxes.json bytes (and coco.json up to its creation date) as an uninterrupted run. A torn last journal line is dropped; a journal of
// a run with other arguments is refused with exit 2.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { runCli } from './helpers/cli.js';
import { tmpDir } from './helpers/tmp.js';

const JOURNAL = 'boxes.journal.jsonl';

function lines(file: string): number {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0;
}

describe('uol localize: kill -9 and resume', function () {
  this.timeout(300_000);

  it('a killed run resumes from its journal and ends with identical boxes.json (coco.json up to its date); other arguments are refused', async () => {
    const dir = tmpDir();
    const pred = path.join(dir, 'p.json');
    expect((await runCli(['fit', '--images', 'data/*.jpg', '--out', pred])).code).to.equal(0);
    const args = (out: string) => ['localize', '--predictor', pred, 'data/*.jpg', '--maps', '--coco', '--threshold', '0.3', '--out', out];
    const whole = path.join(dir, 'whole');
    const r1 = await runCli([...args(whole), '--json']);
    expect(r1.code, r1.stderr).to.equal(0);
    expect(existsSync(path.join(whole, JOURNAL)), 'journal removed after a finished run').to.equal(false);
    const n = (JSON.parse(r1.stdout) as { images: number }).images;
    expect(n).to.equal(21);

    const killed = path.join(dir, 'killed');
    const journal = path.join(killed, JOURNAL);
    const child = spawn(process.execPath, ['--import', 'tsx', 'spec/helpers/uol-ts.ts', ...args(killed), '--progress', 'none'], { stdio: 'ignore' });
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    const want = 3 + Math.floor(Math.random() * 8); // header + 2..9 images
    const t0 = Date.now();
    while (lines(journal) < want && Date.now() - t0 < 120_000) await new Promise((res) => setTimeout(res, 5));
    child.kill('SIGKILL');
    expect(await exited, 'killed by SIGKILL, not finished').to.equal(null);
    expect(existsSync(path.join(killed, 'boxes.json')), 'no boxes.json after the kill').to.equal(false);
    const doneBefore = lines(journal) - 1;
    expect(doneBefore).to.be.within(2, n - 1);
    // A kill can tear the last write: simulate one.
    appendFileSync(journal, '{"id":"torn-li');

    // Other arguments: refused, journal untouched.
    const other = await runCli(['localize', '--predictor', pred, 'data/*.jpg', '--maps', '--coco', '--threshold', '0.4', '--out', killed]);
    expect(other.code).to.equal(2);
    expect(other.stderr).to.match(/boxes\.journal\.jsonl: an unfinished run with other inputs or options left this journal/);
    expect(lines(journal) - 1).to.equal(doneBefore + 1);

    const r2 = await runCli([...args(killed), '--json']);
    expect(r2.code, r2.stderr).to.equal(0);
    const j2 = JSON.parse(r2.stdout) as { images: number; resumed: number };
    expect(j2.images).to.equal(n);
    expect(j2.resumed).to.equal(doneBefore);
    expect(readFileSync(path.join(killed, 'boxes.json'), 'utf8')).to.equal(readFileSync(path.join(whole, 'boxes.json'), 'utf8'));
    // coco.json differs only in info.date_created (the COCO field is the time of writing).
    const undated = (f: string) => readFileSync(f, 'utf8').replace(/"date_created":"[^"]+"/, '"date_created":""');
    expect(undated(path.join(killed, 'coco.json'))).to.equal(undated(path.join(whole, 'coco.json')));
    expect(readdirSync(path.join(killed, 'maps')).sort()).to.deep.equal(readdirSync(path.join(whole, 'maps')).sort());
    expect(existsSync(journal)).to.equal(false);
  });
});
