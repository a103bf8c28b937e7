// node --import ./test-support/peak-rss.mjs <script> …: on exit, writes the process's peak resident
// memory in bytes (getrusage's ru_maxrss: native allocations, mapped files and the JS heap alike)
// to the file named by $PEAK_RSS_FILE. For tests and benchmarks that bound a CLI command's memory
// from outside without changing the command.
import { writeFileSync } from 'node:fs';

const file = process.env.PEAK_RSS_FILE;
if (file) process.on('exit', () => writeFileSync(file, String(process.resourceUsage().maxRSS * 1024)));
