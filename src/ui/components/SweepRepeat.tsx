import { useState } from 'react';
import { bestAlphaRecipe, lmEvalCommands, lmEvalModelOf, type LmEvalBackend, type SweepResultsDocument } from '../../engine/sweep/index.ts';
import { MERGEKIT_FILE } from '../../engine/merge/export-files.ts';
import { formatAlpha } from './AccuracyPlot.tsx';

type Which = 'merged' | 'target' | 'sft' | 'rl';

/**
 * Beside the plot: how to repeat the measurement at full scale on a GPU server — the mergekit
 * recipe of the best α, and the lm_eval command lines (HF or vLLM) for the same tasks,
 * conditions and items, on the merged model or on any of the three sources alone.
 */
export function SweepRepeat({ doc }: { doc: SweepResultsDocument }) {
  const [backend, setBackend] = useState<LmEvalBackend>('hf');
  const [which, setWhich] = useState<Which>('merged');
  const recipe = bestAlphaRecipe(doc);
  // The folder the recipe's own comment line names (`mergekit-yaml mergekit_config.yml ./merged`,
  // export-files.ts) and `studio sweep` evaluates: one command in the sentence, the YAML and lm_eval.
  const mergedFolder = './merged';
  const model = which === 'merged' ? { pretrained: mergedFolder, revision: null } : lmEvalModelOf(doc.sources[which]);
  const plan = lmEvalCommands(doc, model, { backend });
  return (
    <div className="sweep-repeat" data-testid="sweep-repeat">
      <h3>Repeat it at full scale</h3>
      {recipe ? (
        <>
          <p>
            Best α on this sweep: <strong data-testid="best-alpha">{formatAlpha(recipe.alpha)}</strong> (highest mean accuracy of v over the tasks' first metrics). mergekit builds
            θ(α) from the same sources: save the YAML below as <code>{MERGEKIT_FILE}</code> and run{' '}
            <code data-testid="mergekit-command">
              mergekit-yaml {MERGEKIT_FILE} {mergedFolder}
            </code>
          </p>
          <CopyBlock label="mergekit YAML" text={recipe.yaml} testId="mergekit-yaml" />
        </>
      ) : (
        <p className="muted">No complete point of v yet: the mergekit recipe of the best α appears when one is.</p>
      )}
      <div className="merge-controls">
        <span>lm-evaluation-harness on</span>
        <select aria-label="lm_eval model" value={which} onChange={(e) => setWhich(e.target.value as Which)}>
          <option value="merged">the merged model at the best α ({mergedFolder})</option>
          <option value="target">the target alone</option>
          <option value="sft">the SFT donor alone</option>
          <option value="rl">the RL donor alone</option>
        </select>
        <label>
          <input type="radio" name="lm-eval-backend" checked={backend === 'hf'} onChange={() => setBackend('hf')} /> HF
        </label>
        <label>
          <input type="radio" name="lm-eval-backend" aria-label="vLLM" checked={backend === 'vllm'} onChange={() => setBackend('vllm')} /> vLLM
        </label>
      </div>
      {plan.commands.map((c) => (
        <CopyBlock key={c.condition} label={`lm_eval, ${c.condition}`} text={c.command} testId="lm-eval-command" />
      ))}
      {plan.skipped.map((s) => (
        <p key={s.task} className="muted" data-testid="lm-eval-skipped">
          <span className="mono">{s.task}</span>: not in the command — {s.reason}.
        </p>
      ))}
    </div>
  );
}

function CopyBlock({ label, text, testId }: { label: string; text: string; testId: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <div className="copy-block">
      <div className="copy-block-head">
        <span className="muted">{label}</span>
        <button
          type="button"
          className="secondary"
          aria-label={`copy ${label}`}
          onClick={() =>
            void navigator.clipboard
              ?.writeText(text)
              .then(() => setCopied(true))
              .catch(() => setCopied(false))
          }
        >
          {copied ? 'copied' : 'copy'}
        </button>
      </div>
      <pre data-testid={testId}>{text}</pre>
    </div>
  );
}
