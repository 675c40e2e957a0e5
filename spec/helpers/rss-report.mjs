// Preloaded (node --import) into a child CLI run by spec/helpers/child.ts: at exit, writes the process's peak
// resident set size (process.resourceUsage().maxRSS, KiB) to the file named by UOL_TEST_RSS_FILE.
import { writeFileSync } from 'node:fs';

const out = process.env.UOL_TEST_RSS_FILE;
if (out) {
  process.on('exit', () => {
    try {
      writeFileSync(out, String(process.resourceUsage().maxRSS));
    } catch {
      /* the spec reports the missing number */
    }
  });
}
