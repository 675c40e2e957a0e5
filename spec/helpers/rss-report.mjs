// Preloaded (node --import) into a child CLI run by spec/helpers/child.ts: at exit, writes the process's peak
// resident set size in KiB to the file named by UOL_TEST_RSS_FILE. It reads VmHWM from /proc/self/status: on Linux
// process.resourceUsage().maxRSS is inherited across fork + exec (a child of a 1 GB test runner reports ≥ 1 GB), while
// VmHWM belongs to the new address space. maxRSS is the fallback where /proc is missing.
import { readFileSync, writeFileSync } from 'node:fs';

const out = process.env.UOL_TEST_RSS_FILE;
if (out) {
  process.on('exit', () => {
    let kib;
    try {
      kib = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
    } catch {
      kib = undefined;
    }
    try {
      writeFileSync(out, String(kib || process.resourceUsage().maxRSS));
    } catch {
      /* the spec reports the missing number */
    }
  });
}
