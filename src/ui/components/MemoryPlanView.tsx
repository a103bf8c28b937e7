import { useEffect, useMemo } from 'react';
import { ROLES } from '../../engine/checkpoint/compatibility.ts';
import { formatSeconds, type MemoryPlan, type PageWeightsPlan, type WeightsChoice } from '../../engine/model/memory-plan.ts';
import { deviceProfile, measureMergeRate, planTrio } from '../session/memory-plan-session.ts';
import { checkpointFor, loadIdentity } from '../session/slot-loader.ts';
import { useStudio } from '../store.ts';
import { formatBytes } from '../format.ts';

const KIND_TITLE: Record<MemoryPlan['kind'], string> = {
  resident: 'Resident on the GPU',
  streaming: 'Streaming (θ(α) on the GPU, checkpoints re-read per α)',
  cpu: 'CPU (no WebGPU)',
  none: 'Cannot run here',
};

/** A memory plan (engine/model/memory-plan.ts) in words: what stays where, how much, the error it adds, and the time a new α takes. */
export function MemoryPlanView({ plan, budgetGiB }: { plan: MemoryPlan; budgetGiB: number }) {
  const r = plan.residency;
  return (
    <div className={`memory-plan ${plan.kind === 'none' ? 'error' : ''}`} data-testid="memory-plan" data-kind={plan.kind} data-bytes={plan.bytes}>
      <strong data-testid="memory-plan-kind">{KIND_TITLE[plan.kind]}</strong>
      {plan.kind === 'none' ? (
        <p data-testid="memory-plan-reason">{plan.reason}</p>
      ) : (
        <dl className="facts">
          <dt>holds</dt>
          <dd data-testid="memory-plan-bytes">
            {formatBytes(plan.bytes)} {plan.kind === 'cpu' ? 'of host memory' : `of the ${formatBytes(budgetGiB * 1024 ** 3)} GPU memory budget`}
          </dd>
          {r && (
            <>
              <dt>dtypes</dt>
              <dd>
                θ(α) {r.outDtype.toLowerCase()}
                {r.vectorDtype ? ` · v ${r.vectorDtype.toLowerCase()} · target as stored` : ' · v not held'} · compute {plan.compute === 'float16' ? 'f16' : 'f32'}
              </dd>
              <dt>buffers</dt>
              <dd data-testid="memory-plan-blocks">
                at most {formatBytes(r.largestBufferBytes)} each (limit {formatBytes(r.maxBufferBytes)})
                {r.split.length ? `; ${r.split.length} weight${r.split.length === 1 ? '' : 's'} in row blocks` : ''}
              </dd>
            </>
          )}
          {plan.alphaSeconds !== undefined && (
            <>
              <dt>new α</dt>
              <dd data-testid="memory-plan-alpha">
                ≈ {formatSeconds(plan.alphaSeconds)} <span className="muted">({plan.alphaBasis})</span>
              </dd>
            </>
          )}
          <dt>error</dt>
          <dd data-testid="memory-plan-errors">
            {plan.errors.length === 0
              ? 'none: θ(α) is the exact float32 merge'
              : plan.errors.map((e) => (
                  <span key={e.source} className="plan-error-item">
                    {e.source}: {e.bound}.{' '}
                  </span>
                ))}
          </dd>
          <dt>export</dt>
          <dd className="muted">{plan.exportPath}</dd>
        </dl>
      )}
      {plan.kind !== 'none' && <p className="muted">{plan.summary}</p>}
    </div>
  );
}

/**
 * The page's 4-bit weights mode (resident-q4-merge.ts) in words: what it holds, the error it adds,
 * why the page chose it, and the time a new α takes (it re-reads the checkpoints).
 */
export function Q4PlanView({ weights, budgetGiB }: { weights: PageWeightsPlan; budgetGiB: number }) {
  const q = weights.q4!;
  return (
    <div className={`memory-plan ${q.fits ? '' : 'error'}`} data-testid="memory-plan-q4" data-bytes={q.bytes} data-fits={q.fits}>
      <strong>4-bit weights (MatMulNBits) on the GPU</strong>
      <dl className="facts">
        <dt>holds</dt>
        <dd data-testid="memory-plan-q4-bytes">
          {formatBytes(q.bytes)} of the {formatBytes(budgetGiB * 1024 ** 3)} GPU memory budget ({formatBytes(q.quantizedBytes)} 4-bit projections, {formatBytes(q.floatBytes)} f32 embedding,
          head, norms and biases, {formatBytes(q.transientBytes + q.stagingBytes)} while merging: one projection in f32 at a time) — against {formatBytes(q.floatModelBytes)} in f32
        </dd>
        <dt>dtypes</dt>
        <dd>projections 4-bit, block 32, f32 scales · the rest f32 · compute f32 (MatMulNBits takes its scales in the activations' type)</dd>
        {weights.q4AlphaSeconds !== undefined && (
          <>
            <dt>new α</dt>
            <dd data-testid="memory-plan-q4-alpha">≈ {formatSeconds(weights.q4AlphaSeconds)} <span className="muted">(re-reading the checkpoints, merging and quantising on the GPU)</span></dd>
          </>
        )}
        <dt>error</dt>
        <dd data-testid="memory-plan-q4-errors">
          {q.errors.map((e) => (
            <span key={e.source} className="plan-error-item">
              {e.source}: {e.bound}.{' '}
            </span>
          ))}
        </dd>
      </dl>
    </div>
  );
}

const WEIGHTS_LABEL: Record<WeightsChoice, string> = { auto: 'auto (4-bit when float does not fit)', float: 'float', q4: '4-bit' };

/** The loaded trio's plan on this device (headers only: shown before any weight is downloaded). */
export function TrioMemoryPlan() {
  const slots = useStudio((s) => s.slots);
  const gpu = useStudio((s) => s.gpu);
  const budgetGiB = useStudio((s) => s.settings.gpuBudgetGiB);
  const vocabPolicy = useStudio((s) => s.merge.vocabPolicy);
  const choice = useStudio((s) => s.settings.weights);
  const setSettings = useStudio((s) => s.setSettings);
  const ready = ROLES.every((r) => slots[r].status === 'ready');
  useEffect(() => {
    if (ready && gpu.status === 'ready') void measureMergeRate();
  }, [ready, gpu.status]);
  // Recomputed when a slot loads another checkpoint, or the device, the budget or the vocab policy changes.
  const identity = `${loadIdentity()}|${ROLES.map((r) => slots[r].status).join(',')}`;
  const result = useMemo(() => {
    const trio = { sft: checkpointFor('sft'), rl: checkpointFor('rl'), target: checkpointFor('target') };
    if (!ready || !trio.sft || !trio.rl || !trio.target) return undefined;
    return planTrio({ sft: trio.sft, rl: trio.rl, target: trio.target }, vocabPolicy, deviceProfile(gpu, budgetGiB), choice);
  }, [identity, ready, vocabPolicy, gpu, budgetGiB, choice]);
  if (!result?.plan) return null;
  return (
    <div className="trio-plan">
      <h3>Memory plan for the playground</h3>
      {result.weights?.q4 && (
        <label className="weights-choice">
          weights{' '}
          <select aria-label="weights" value={choice} onChange={(e) => setSettings({ weights: e.target.value as WeightsChoice })}>
            {(Object.keys(WEIGHTS_LABEL) as WeightsChoice[]).map((c) => (
              <option key={c} value={c}>
                {WEIGHTS_LABEL[c]}
              </option>
            ))}
          </select>{' '}
          <span className="muted" data-testid="memory-plan-weights" data-weights={result.weights.weights}>
            {result.weights.weights === 'q4' ? '4-bit' : 'float'}: {result.weights.why}
          </span>
        </label>
      )}
      {result.weights?.weights === 'q4' ? <Q4PlanView weights={result.weights} budgetGiB={budgetGiB} /> : <MemoryPlanView plan={result.plan} budgetGiB={budgetGiB} />}
    </div>
  );
}
