import { ROLES } from '../../engine/checkpoint/compatibility.ts';
import { VOCAB_POLICIES, type VocabPolicy } from '../../engine/merge/merge-plan.ts';
import { cancelMergeJob, computeVectorStats, saveMergedModelFolder, saveVectorFolder } from '../session/merge-session.ts';
import { useStudio, type MergeState } from '../store.ts';
import { formatBytes } from '../format.ts';
import { AlphaSlider } from './AlphaSlider.tsx';
import { ExportFiles } from './ExportFiles.tsx';
import { OnnxExport } from './OnnxExport.tsx';
import { TrioMemoryPlan } from './MemoryPlanView.tsx';
import { VectorHeatmap } from './VectorHeatmap.tsx';
import { pageRefusal, useVerdict } from './VerdictPanel.tsx';
import { NumberField, useFieldProblems } from './NumberField.tsx';

const JOB_TITLE = { stats: 'Vector statistics', model: 'Saving the merged model', vector: 'Saving the vector', onnx: 'Exporting ONNX' } as const;

export function MergePanel() {
  const slots = useStudio((s) => s.slots);
  const merge = useStudio((s) => s.merge);
  const gpu = useStudio((s) => s.gpu);
  const patch = useStudio((s) => s.patchMerge);
  // The buttons follow the verdict the page shows: the rules planMerge runs, under the policy chosen here.
  const mergeVerdict = useVerdict('merge');
  const vectorVerdict = useVerdict('vector');
  // The α box's draft: an empty or unreadable one is kept on screen and blocks the α-driven buttons.
  const alphaField = useFieldProblems();
  if (!ROLES.every((r) => slots[r].status === 'ready')) return null;
  const mergeOk = mergeVerdict?.ok === true;
  const vectorOk = vectorVerdict?.ok === true;
  const job = merge.job;
  const busy = job?.status === 'running';
  // An α emptied in the box at the top reaches here as NaN (this box then shows empty too, and the
  // sentence is about α itself); an invalid draft in this box leaves the α in use unchanged.
  const alphaProblem = Number.isFinite(merge.alpha) ? alphaField.first : 'α must be a finite number.';
  const alphaOk = alphaProblem === undefined;
  return (
    <section className="merge-panel" data-testid="merge-panel">
      <h2>Merge</h2>
      <p className="muted">
        θ(α) = θ<sub>target</sub> + α·(θ<sub>RL</sub> − θ<sub>SFT</sub>), computed in float32 and rounded to nearest-even, tensor by tensor
        {gpu.status === 'ready' ? ' with WGSL kernels on this GPU.' : ' on the CPU: this browser gives no WebGPU device (same bits, slower).'}
      </p>
      <div className="merge-controls">
        <label>
          α{' '}
          <NumberField
            label="alpha"
            value={Number.isFinite(merge.alpha) ? merge.alpha : null}
            rule={{}}
            step="0.05"
            onCommit={(alpha) => alpha !== null && patch({ alpha })}
            onProblem={alphaField.report}
          />
        </label>
        <AlphaSlider label="alpha slider" alpha={merge.alpha} onChange={(alpha) => patch({ alpha })} />
        <label>
          output dtype{' '}
          <select aria-label="output dtype" value={merge.outDtype} onChange={(e) => patch({ outDtype: e.target.value as MergeState['outDtype'] })}>
            <option value="target">as the target</option>
            <option value="BF16">bf16</option>
            <option value="F16">f16</option>
            <option value="F32">f32</option>
          </select>
        </label>
        <label title="When the donors' and the target's vocabularies differ in size">
          vocab sizes differ{' '}
          <select aria-label="vocab policy" value={merge.vocabPolicy} onChange={(e) => patch({ vocabPolicy: e.target.value as VocabPolicy })}>
            {VOCAB_POLICIES.map((p) => (
              <option key={p} value={p}>
                {p === 'refuse' ? 'refuse' : 'overlap: merge the shared rows, keep the target’s others'}
              </option>
            ))}
          </select>
        </label>
      </div>
      {alphaProblem && (
        <p className="error" data-testid="merge-alpha-problem">
          Saving the merged model and exporting ONNX are disabled: {alphaProblem}
        </p>
      )}
      {mergeVerdict && !mergeOk && (
        <p className="error" data-testid="merge-blocked">
          Merging is disabled: {pageRefusal(mergeVerdict)}
        </p>
      )}
      {vectorVerdict && !vectorOk && (
        <p className="error" data-testid="vector-blocked">
          Saving the vector is disabled: {pageRefusal(vectorVerdict)}
        </p>
      )}
      <div className="toolbar">
        {/* Statistics run the merge at α = 0 (v against the target), so the merge verdict governs them. */}
        <button disabled={busy || !mergeOk} onClick={() => void computeVectorStats()}>
          Vector statistics
        </button>
        <button disabled={busy || !alphaOk || !mergeOk} onClick={() => void saveMergedModelFolder()}>
          Save merged model…
        </button>
        {/* The vector is the donors' alone: a target the merge refuses does not stop it. */}
        <button disabled={busy || !vectorOk} onClick={() => void saveVectorFolder()}>
          Save vector…
        </button>
        <OnnxExport disabled={busy || !alphaOk || !mergeOk} />
        {busy && (
          <button className="secondary" onClick={cancelMergeJob}>
            Cancel
          </button>
        )}
      </div>
      {job && (
        <div className={`merge-job ${job.status}`} data-testid="merge-job" data-status={job.status}>
          <strong>{JOB_TITLE[job.kind]}</strong>
          {job.merger && <span className="muted"> · {job.merger === 'gpu' ? 'GPU (WGSL)' : 'CPU path'}</span>}
          {job.status === 'running' && (
            <div className="progress">
              <progress max={job.bytesTotal || 1} value={job.bytesDone} />
              <span>
                tensor {job.tensorsDone}/{job.tensorsTotal} · {formatBytes(job.bytesDone)} of {formatBytes(job.bytesTotal)}
              </span>
            </div>
          )}
          {job.message && <p data-testid="merge-message">{job.message}</p>}
          {job.error && (
            <p className="error" data-testid="merge-error">
              {job.error}
            </p>
          )}
          {job.notes && job.notes.length > 0 && (
            <ul className="notes">
              {job.notes.map((n, i) => (
                <li key={i}>{n}</li>
              ))}
            </ul>
          )}
          {job.files && <ExportFiles files={job.files} />}
        </div>
      )}
      {merge.stats && <VectorHeatmap />}
      <TrioMemoryPlan />
    </section>
  );
}
