import { useStudio } from '../store.ts';

/**
 * The current α in the URL's hash (`#a=0.5`), so a reload or a bookmark keeps it. It shares the
 * hash with share links (`#r=1.…`, engine/sweep/share-url.ts): only the `a=` part is read or
 * written here, every other part is kept byte for byte (a share payload is never re-encoded).
 * Written with history.replaceState — no history entry per slider step, no hashchange event.
 */

export const ALPHA_HASH_KEY = 'a';
/** Longer than any α a person types: a longer `a=` value is not read (the hash is the user's input). */
const MAX_ALPHA_CHARS = 24;
/** A plain decimal (optionally with an exponent): what `String(alpha)` writes; nothing else is read. */
const ALPHA_TEXT = /^-?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;

function parts(hash: string): string[] {
  return hash.replace(/^#/, '').split('&').filter(Boolean);
}

/** The α a hash carries, or undefined when it has none or an unreadable one. */
export function alphaFromHash(hash: string): number | undefined {
  const part = parts(hash).find((p) => p.startsWith(`${ALPHA_HASH_KEY}=`));
  if (!part) return undefined;
  const text = part.slice(ALPHA_HASH_KEY.length + 1);
  if (text.length > MAX_ALPHA_CHARS || !ALPHA_TEXT.test(text)) return undefined;
  const a = Number(text);
  return Number.isFinite(a) ? a : undefined;
}

/** `hash` with its `a=` part set to `alpha` (removed for a non-finite α); other parts untouched, in order. */
export function hashWithAlpha(hash: string, alpha: number): string {
  const rest = parts(hash).filter((p) => !p.startsWith(`${ALPHA_HASH_KEY}=`));
  const all = Number.isFinite(alpha) ? [...rest, `${ALPHA_HASH_KEY}=${alpha}`] : rest;
  return all.length ? `#${all.join('&')}` : '';
}

function writeAlpha(alpha: number): void {
  const next = hashWithAlpha(location.hash, alpha);
  if (next === location.hash || (next === '' && location.hash === '')) return;
  history.replaceState(history.state, '', `${location.pathname}${location.search}${next}`);
}

/**
 * Reads α from the hash once (before anything runs at α) and keeps the hash in step with the
 * store from then on; a hash edited by hand (hashchange) moves α. Returns a stop.
 */
export function syncAlphaWithHash(): () => void {
  const st = useStudio.getState;
  const fromUrl = alphaFromHash(location.hash);
  if (fromUrl !== undefined && fromUrl !== st().merge.alpha) st().patchMerge({ alpha: fromUrl });
  const unsubscribe = useStudio.subscribe((s, prev) => {
    if (s.merge.alpha !== prev.merge.alpha) writeAlpha(s.merge.alpha);
    // Making a share link replaces the whole hash with `#r=…`: α goes back beside it.
    else if (s.sweep.share !== prev.sweep.share && alphaFromHash(location.hash) === undefined && s.merge.alpha !== useStudio.getInitialState().merge.alpha) writeAlpha(s.merge.alpha);
  });
  const onHash = () => {
    const a = alphaFromHash(location.hash);
    if (a !== undefined && a !== st().merge.alpha) st().patchMerge({ alpha: a });
  };
  window.addEventListener('hashchange', onHash);
  return () => {
    unsubscribe();
    window.removeEventListener('hashchange', onHash);
  };
}
