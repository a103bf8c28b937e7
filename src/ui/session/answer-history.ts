/**
 * Answers kept while α moves: going back to an α already answered shows that answer instead of
 * regenerating. Greedy decoding makes an answer a function of (model, prompt, α, settings), so
 * those four are the key. Bounded (least recently used goes first): each entry holds a few
 * hundred ids and some text, and a researcher scrubbing α produces one per stop of the slider.
 */

/** What an answer depends on. `model` names the merged model's identity (trio, vocab policy, budget, provider). */
export interface AnswerKey {
  model: string;
  /** The prompt as the model sees it, with what decides its encoding ("chat:" / "plain:" / "ids:" / "item:"). */
  prompt: string;
  alpha: number;
  /** Generation settings that change the answer (max new tokens, stop strings, …), as one string. */
  settings: string;
}

/** Enough for a sweep grid and some scrubbing; small enough that memory never matters. */
export const ANSWER_HISTORY_LIMIT = 32;

export class AnswerHistory<V> {
  private readonly entries = new Map<string, { model: string; value: V }>();
  constructor(readonly limit = ANSWER_HISTORY_LIMIT) {
    if (!(limit >= 1)) throw new RangeError(`an answer history keeps at least one answer, not ${limit}`);
  }

  /** −0 and 0 are the same α (the slider and a typed "0" must meet). */
  private static id(k: AnswerKey): string {
    return JSON.stringify([k.model, k.prompt, k.alpha === 0 ? 0 : k.alpha, k.settings]);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The kept answer, refreshed as most recently used; undefined when none. */
  get(k: AnswerKey): V | undefined {
    const id = AnswerHistory.id(k);
    const e = this.entries.get(id);
    if (!e) return undefined;
    this.entries.delete(id);
    this.entries.set(id, e);
    return e.value;
  }

  put(k: AnswerKey, value: V): void {
    const id = AnswerHistory.id(k);
    this.entries.delete(id);
    this.entries.set(id, { model: k.model, value });
    while (this.entries.size > this.limit) this.entries.delete(this.entries.keys().next().value!);
  }

  /** Drops every answer of another model: called when the model changes, so no stale answer can be shown or kept in memory. */
  retainModel(model: string): void {
    for (const [id, e] of this.entries) if (e.model !== model) this.entries.delete(id);
  }

  clear(): void {
    this.entries.clear();
  }
}
