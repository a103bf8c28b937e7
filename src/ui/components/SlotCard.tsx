import { useId, useRef, useState, type DragEvent, type FormEvent } from 'react';
import { ROLE_LABEL, ROLES, type Role } from '../../engine/checkpoint/compatibility.ts';
import { collectDroppedFiles, filesFromInput } from '../session/collect-dropped-files.ts';
import { downloadWeights, loadDroppedFiles, loadHubId } from '../session/slot-loader.ts';
import { useStudio } from '../store.ts';
import { formatBytes, formatDuration, formatParameterCount } from '../format.ts';

const HINT: Record<Role, string> = {
  sft: 'e.g. michaelbzhu/Qwen2.5-Math-1.5B-GSM8K-SFT',
  rl: 'e.g. michaelbzhu/Qwen2.5-Math-1.5B-GSM8K-GRPO',
  target: 'e.g. Qwen/Qwen2.5-1.5B-Instruct@main',
};

/**
 * One checkpoint of the trio. While the trio is being filled the card is whole (Hub id, drop zone,
 * what was read); once all three are loaded it folds to one line each — the id box, size, dtypes —
 * so the plot and the α explorer get the screen, and "details" unfolds it again. Folded, the
 * card still takes a drop, and what it read stays in the page (hidden), for find-in-page.
 */
export function SlotCard({ role }: { role: Role }) {
  const slot = useStudio((s) => s.slots[role]);
  const trioReady = useStudio((s) => ROLES.every((r) => s.slots[r].status === 'ready'));
  const setInput = useStudio((s) => s.setInput);
  const [dragging, setDragging] = useState(false);
  const [expanded, setExpanded] = useState(false);
  const folderInput = useRef<HTMLInputElement>(null);
  const bodyId = useId();
  const compact = trioReady && !expanded;

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    if (slot.input.trim()) void loadHubId(role, slot.input);
  };
  const onDrop = async (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    void loadDroppedFiles(role, await collectDroppedFiles(e.dataTransfer));
  };

  const s = slot.summary;
  return (
    <section
      className={`slot ${dragging ? 'dragging' : ''} status-${slot.status}${compact ? ' compact' : ''}`}
      data-testid={`slot-${role}`}
      data-compact={compact}
      aria-label={ROLE_LABEL[role]}
      onDragOver={(e) => {
        e.preventDefault();
        setDragging(true);
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={onDrop}
    >
      <div className="slot-head">
        <h2>{ROLE_LABEL[role]}</h2>
        {s && <span className="slot-brief" data-testid="slot-brief">{brief(s)}</span>}
        {trioReady && (
          <button type="button" className="link slot-toggle" aria-expanded={!compact} aria-controls={bodyId} onClick={() => setExpanded(!expanded)}>
            {compact ? 'details' : 'fold'}
            <span className="visually-hidden"> of the {ROLE_LABEL[role]}</span>
          </button>
        )}
      </div>
      {/* Folded, a slot loaded from the demo or a drop shows where it came from instead of an empty id box. */}
      {compact && !slot.input.trim() && s && (
        <p className="mono slot-id" title={s.source}>
          {s.source}
        </p>
      )}
      <form onSubmit={onSubmit} className="hub-form" hidden={compact && !slot.input.trim()}>
        <input
          aria-label={`${ROLE_LABEL[role]} Hugging Face id`}
          placeholder={HINT[role]}
          value={slot.input}
          onChange={(e) => setInput(role, e.target.value)}
          spellCheck={false}
        />
        <button type="submit" disabled={!slot.input.trim()}>
          Load
        </button>
      </form>
      <div id={bodyId} hidden={compact} className="slot-body">
        <div className="drop-hint">
          or drop a model folder here, or{' '}
          {/* A real button opens the picker: the file input itself is hidden (its native look cannot be
              styled), and a hidden input is out of the Tab order, so a <label> around it was mouse-only. */}
          <button type="button" className="link folder-pick" onClick={() => folderInput.current?.click()}>
            pick a folder
          </button>
          <input
            ref={folderInput}
            type="file"
            hidden
            tabIndex={-1}
            aria-label={`${ROLE_LABEL[role]} folder`}
            // @ts-expect-error: webkitdirectory is not in React's input attributes
            webkitdirectory=""
            multiple
            onChange={(e) => e.target.files && e.target.files.length > 0 && void loadDroppedFiles(role, filesFromInput(e.target.files))}
          />
        </div>

        {slot.status === 'loading' && slot.progress && (
          <div className="progress" data-testid="header-progress">
            <progress max={slot.progress.total} value={slot.progress.done} />
            <span>
              {slot.progress.phase === 'headers'
                ? `reading headers ${slot.progress.done}/${slot.progress.total}`
                : slot.progress.phase === 'listing'
                  ? 'listing files…'
                  : 'resolving revision…'}
            </span>
          </div>
        )}
        {slot.status === 'error' && (
          <p className="error" role="alert" data-testid="slot-error">
            {slot.error}
          </p>
        )}
        {s && (
          <dl className="facts" data-testid="slot-summary">
            <dt>source</dt>
            <dd className="mono" title={s.source}>
              {s.source}
            </dd>
            <dt>architecture</dt>
            <dd>{s.architecture}</dd>
            <dt>parameters</dt>
            <dd>{formatParameterCount(s.parameters)}</dd>
            <dt>dtypes</dt>
            <dd>
              {Object.entries(s.dtypes)
                .map(([d, n]) => `${d} ×${n}`)
                .join(', ')}
            </dd>
            <dt>shards</dt>
            <dd>
              {s.shards.length} ({formatBytes(s.shards.reduce((a, x) => a + x.bytes, 0))})
            </dd>
            <dt>head</dt>
            <dd>{s.tiedEmbeddings ? 'tied to embeddings' : 'untied (lm_head stored)'}</dd>
            <dt>config</dt>
            <dd>
              transformers {s.configForm} · {s.config.numLayers} layers · hidden {s.config.hiddenSize} · vocab {s.config.vocabSize}
            </dd>
          </dl>
        )}
      </div>
      {s && role === 'target' && !s.tokenizerFiles.includes('tokenizer.json') && (
        <p className="notice" data-testid="slot-no-tokenizer">
          No tokenizer.json in this target: prompts cannot be encoded or answers decoded, so the playground takes token ids instead. Merging, saving and
          vector statistics do not need it.
        </p>
      )}
      {s && slot.origin === 'hub' && <DownloadBar role={role} />}
    </section>
  );
}

/** The folded card's line: size and dtypes (the id is in the box above). */
function brief(s: NonNullable<ReturnType<typeof useStudio.getState>['slots'][Role]['summary']>): string {
  const bytes = s.shards.reduce((a, x) => a + x.bytes, 0);
  return `${formatParameterCount(s.parameters)} params · ${Object.keys(s.dtypes).join(', ')} · ${formatBytes(bytes)}`;
}

function DownloadBar({ role }: { role: Role }) {
  const d = useStudio((s) => s.slots[role].download);
  if (!d) {
    return (
      <button className="secondary" onClick={() => void downloadWeights(role)}>
        Download weights to the browser cache
      </button>
    );
  }
  return (
    <div className="progress" data-testid="download-progress">
      <progress max={d.bytesTotal} value={d.bytesDone} />
      <span>
        {d.state === 'done'
          ? `weights cached (${formatBytes(d.bytesTotal)})`
          : `${formatBytes(d.bytesDone)} / ${formatBytes(d.bytesTotal)} · ${formatBytes(d.bytesPerSecond)}/s · ETA ${formatDuration(d.etaSeconds)}`}
      </span>
      {d.state === 'error' && (
        <p className="error" role="alert">
          {d.error}{' '}
          <button className="secondary" onClick={() => void downloadWeights(role)}>
            Resume
          </button>
        </p>
      )}
    </div>
  );
}
