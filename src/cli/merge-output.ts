import type { MergePlan } from '../engine/merge/merge-plan.ts';
import type { MergeProgress, MergeReport } from '../engine/merge/stream-merge.ts';
import type { CliIO } from './command.ts';

/** A progress line on stderr when it is a terminal, at most a few times a second. */
export function progressPrinter(): ((p: MergeProgress) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (now - last < 250 && p.tensorsDone < p.tensorsTotal) return;
    last = now;
    const pct = p.bytesTotal ? ((100 * p.bytesDone) / p.bytesTotal).toFixed(1) : '100';
    process.stderr.write(`\r${pct}% · tensor ${p.tensorsDone}/${p.tensorsTotal} · ${p.tensor.slice(0, 60).padEnd(60)}`);
    if (p.tensorsDone === p.tensorsTotal) process.stderr.write('\n');
  };
}

/** Non-finite results are warned about by tensor on stderr; the summary JSON is the last stdout line. */
export function printMergeSummary(io: CliIO, s: { out: string; alpha?: number; merger: string; plan: MergePlan; report: MergeReport }) {
  const nonFinite = s.report.tensors.filter((t) => t.nan || t.inf);
  for (const t of nonFinite) io.stderr(`warning: ${t.name}: ${t.nan} NaN and ${t.inf} Inf values in the output.`);
  io.stdout(
    JSON.stringify({
      out: s.out,
      ...(s.alpha !== undefined ? { alpha: s.alpha } : {}),
      merger: s.merger,
      files: s.report.files,
      tensors: s.plan.tensors.length,
      mergedTensors: s.plan.tensors.filter((t) => t.mergedElements > 0).length,
      bytesWritten: s.report.bytesWritten,
      seconds: Number(s.report.seconds.toFixed(3)),
      nonFinite: nonFinite.map((t) => ({ tensor: t.name, nan: t.nan, inf: t.inf })),
      ...(s.report.total ? { vector: s.report.total } : {}),
      notes: s.plan.notes,
    }),
  );
}
