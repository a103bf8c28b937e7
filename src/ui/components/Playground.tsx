import { useEffect, useRef } from 'react';
import { ROLES } from '../../engine/checkpoint/compatibility.ts';
import { cancelPlayground, runPlayground } from '../session/model-session.ts';
import { useStudio } from '../store.ts';
import { AlphaExplorer } from './AlphaExplorer.tsx';
import { AlphaSlider } from './AlphaSlider.tsx';
import { ModelBuildStep } from './ModelBuildStep.tsx';
import { NumberField, useFieldProblems, useFocusReturn } from './NumberField.tsx';
import { pageRefusal, useVerdict } from './VerdictPanel.tsx';

/** Type a prompt, press Generate, then drag α: the merged model answers again at each α. */
export function Playground() {
  const slots = useStudio((s) => s.slots);
  const pg = useStudio((s) => s.playground);
  const alpha = useStudio((s) => s.merge.alpha);
  const patch = useStudio((s) => s.patchPlayground);
  const engaged = useRef(false);
  // Generating merges the trio: it follows the same verdict as the merge panel's buttons.
  const verdict = useVerdict('merge');
  const mergeOk = verdict?.ok === true;
  const alphaOk = Number.isFinite(alpha);
  const fields = useFieldProblems();
  const busy = pg.status === 'loading' || pg.status === 'generating';
  const generateButton = useFocusReturn(busy);
  // Why Generate cannot run now (besides the verdict, shown below on its own).
  const problem = !alphaOk ? 'Set α first: the α box at the top does not hold a finite number.' : fields.first;
  const allowed = useRef(mergeOk);
  allowed.current = mergeOk && !problem;
  useEffect(() => {
    if (!engaged.current || !allowed.current) return;
    const t = setTimeout(() => void runPlayground(), 120);
    return () => clearTimeout(t);
  }, [alpha]);
  if (!ROLES.every((r) => slots[r].status === 'ready')) return null;
  const out = pg.output;
  // Known from the target's file listing when its slot loaded: no tokenizer.json, no text prompts.
  const idsOnly = slots.target.summary?.tokenizerFiles.includes('tokenizer.json') === false;
  return (
    <section className="playground" data-testid="playground">
      <h2>Try the merged model</h2>
      {idsOnly ? (
        <>
          <p className="notice ids-note" data-testid="playground-ids-note">
            The target has no tokenizer.json, so text cannot be encoded or decoded: type the prompt as token ids (as <code>studio generate --ids</code>{' '}
            takes them); the answer is shown as ids.
          </p>
          <input aria-label="prompt token ids" className="mono" placeholder="e.g. 283, 10, 20" value={pg.idsText} onChange={(e) => patch({ idsText: e.target.value })} spellCheck={false} />
        </>
      ) : (
        <textarea aria-label="prompt" rows={3} value={pg.prompt} onChange={(e) => patch({ prompt: e.target.value })} />
      )}
      <div className="merge-controls">
        <label>
          α = <strong data-testid="playground-alpha">{Number.isFinite(alpha) ? alpha : '—'}</strong>{' '}
          <AlphaSlider label="playground alpha slider" alpha={alpha} onChange={(a) => useStudio.getState().patchMerge({ alpha: a })} />
        </label>
        {!idsOnly && (
          <label>
            <input type="checkbox" checked={pg.chat} onChange={(e) => patch({ chat: e.target.checked })} /> chat template
          </label>
        )}
        <label>
          max new tokens{' '}
          <NumberField label="max new tokens" rule={{ integer: true, min: 1, max: 512 }} value={pg.maxNewTokens} onCommit={(maxNewTokens) => patch({ maxNewTokens: maxNewTokens! })} onProblem={fields.report} />
        </label>
        <button
          ref={generateButton.ref}
          disabled={busy || !mergeOk || Boolean(problem)}
          onClick={() => {
            engaged.current = true;
            generateButton.arm();
            void runPlayground({ fresh: true });
          }}
        >
          Generate
        </button>
        {pg.status === 'generating' && (
          <button className="secondary" data-testid="playground-cancel" onClick={cancelPlayground}>
            Cancel
          </button>
        )}
        <span className="muted" data-testid="playground-status">
          {pg.status === 'loading' ? 'building the model…' : pg.status === 'generating' ? 'generating…' : ''}
        </span>
      </div>
      {problem && (
        <p className="error" data-testid="playground-problem">
          Generate is disabled: {problem}
        </p>
      )}
      {verdict && !verdict.ok && (
        <p className="error" data-testid="playground-blocked">
          Generating is disabled: {pageRefusal(verdict)}
        </p>
      )}
      {pg.status === 'loading' && <ModelBuildStep showDone={false} />}
      {pg.path === 'cpu-copy' && (
        <p className="notice" data-testid="playground-notice">
          No WebGPU here: the model runs on the CPU (WASM) and every α re-merges through host memory.
        </p>
      )}
      {pg.residency && <p className="muted">{pg.residency}</p>}
      {pg.error && (
        <p className="error" data-testid="playground-error">
          {pg.error}
        </p>
      )}
      {out && (
        <div className="answer" data-testid="playground-output" data-alpha={out.alpha} data-ids={out.ids.join(',')}>
          <pre>{out.text ?? out.ids.join(' ')}</pre>
          <p className="muted" data-testid="playground-meta">
            α = {out.alpha} ·{' '}
            {out.kept && (
              <>
                <span className="notice-inline" data-testid="playground-kept">
                  kept from an earlier run at this α — not regenerated
                </span>{' '}
                ·{' '}
              </>
            )}
            {out.remergeMs > 0 ? `re-merged in ${out.remergeMs.toFixed(1)} ms` : 'weights unchanged'}
            {pg.path === 'gpu-zero-copy' ? ' on the GPU (buffers shared with onnxruntime, no copy)' : ' on the CPU'} · {pg.compute === 'float16' ? 'f16' : 'f32'} ·{' '}
            {out.sessionReused ? 'session reused' : `model and session built in ${(out.buildMs ?? 0).toFixed(0)} ms`} · {out.ids.length} token
            {out.ids.length === 1 ? '' : 's'} in {out.generateMs.toFixed(0)} ms ({out.tokensPerSecond.toFixed(1)} tok/s, {out.finishReason})
          </p>
        </div>
      )}
      <AlphaExplorer disabled={!mergeOk} />
    </section>
  );
}
