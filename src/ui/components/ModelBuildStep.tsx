import { describeBuildPhase } from '../../engine/model/live-model.ts';
import { useExplorer } from '../explorer-store.ts';

/**
 * The first build of the playground's model as a step of its own: what it is doing (reading the
 * tokenizer, uploading the target and v, building the graph, creating the session) with its
 * progress while it runs, and how long it took once done — so the first column's numbers are
 * about the α, not about the build.
 */
export function ModelBuildStep({ showDone = true }: { showDone?: boolean }) {
  const build = useExplorer((s) => s.build);
  if (!build || (build.status === 'done' && !showDone)) return null;
  const p = build.progress;
  return (
    <div className="model-build" data-testid="model-build" data-status={build.status} data-phase={p.phase}>
      {build.status === 'running' ? (
        <>
          <strong>Building the model</strong> (once per trio): {describeBuildPhase(p)}… {(build.ms / 1000).toFixed(1)} s
          {p.phase === 'weights' && p.total > 0 && <progress aria-label="model build progress" max={p.total} value={p.done} />}
        </>
      ) : build.status === 'done' ? (
        <span className="muted">
          Model built in {(build.ms / 1000).toFixed(2)} s (tokenizer, weights, graph, session, GPU kernels); each α after that is a re-merge into the same weights.
        </span>
      ) : (
        <span className="error">The model build stopped while {describeBuildPhase(p)}.</span>
      )}
    </div>
  );
}
