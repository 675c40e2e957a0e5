// util/journal.ts: the append-only run journal behind resumable `uol localize`.
import { expect } from 'chai';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Journal } from '../src/util/journal.js';
import { tmpDir } from './helpers/tmp.js';

describe('journal', () => {
  it('reads back what was appended, drops a torn tail, refuses other runs, non-journals and corruption by name', () => {
    const f = path.join(tmpDir(), 'j.jsonl');
    const a = Journal.open<{ n: number }>(f, 'test', 'fp1');
    expect(a.done).to.deep.equal([]);
    for (let n = 0; n < 3; n++) a.journal.append({ n });
    a.journal.close();
    appendFileSync(f, '{"n":');
    const b = Journal.open<{ n: number }>(f, 'test', 'fp1');
    expect(b.done).to.deep.equal([{ n: 0 }, { n: 1 }, { n: 2 }]);
    expect(b.repaired).to.equal(true);
    b.journal.append({ n: 3 });
    b.journal.close();
    expect(readFileSync(f, 'utf8').split('\n')).to.have.length(6); // header + 4 entries + ''
    const c = Journal.open<{ n: number }>(f, 'test', 'fp1');
    expect(c.done.map((e) => e.n)).to.deep.equal([0, 1, 2, 3]);
    expect(c.repaired).to.equal(false);
    c.journal.close();
    expect(() => Journal.open(f, 'test', 'fp2')).to.throw(/j\.jsonl: an unfinished run with other inputs or options left this journal/);
    expect(() => Journal.open(f, 'other', 'fp1')).to.throw(/j\.jsonl: not a other journal/);
    // A damaged whole line that is not the last: corruption, not a torn write.
    const text = readFileSync(f, 'utf8').split('\n');
    text[2] = '{broken';
    writeFileSync(f, text.join('\n'));
    expect(() => Journal.open(f, 'test', 'fp1')).to.throw(/j\.jsonl: line 3 is not valid JSON/);
    // A damaged last whole line is treated like a torn one (dropped).
    const g = path.join(tmpDir(), 'g.jsonl');
    const d = Journal.open<{ n: number }>(g, 'test', 'x');
    d.journal.append({ n: 1 });
    d.journal.close();
    appendFileSync(g, '{"n":\n');
    const e = Journal.open<{ n: number }>(g, 'test', 'x');
    expect(e.done).to.deep.equal([{ n: 1 }]);
    expect(e.repaired).to.equal(true);
    e.journal.remove();
  });
});
