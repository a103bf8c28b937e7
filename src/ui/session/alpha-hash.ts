import { create } from 'zustand';
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
  const read = readAlphaHash(hash);
  return 'alpha' in read ? read.alpha : undefined;
}

/**
 * The hash's `a=` part: none, a finite α, or the text that could not be read as one together
 * with why (said to the user: a link that silently opens at another α misleads).
 */
export function readAlphaHash(hash: string): { none: true } | { alpha: number } | { text: string; problem: string } {
  const part = parts(hash).find((p) => p.startsWith(`${ALPHA_HASH_KEY}=`));
  if (!part) return { none: true };
  const raw = part.slice(ALPHA_HASH_KEY.length + 1);
  let text = raw;
  try {
    text = decodeURIComponent(raw);
  } catch {
    // Not percent-encoding: shown as it stands.
  }
  const quoted = text.length > MAX_ALPHA_CHARS ? `${text.slice(0, MAX_ALPHA_CHARS)}…` : text;
  if (raw.length > MAX_ALPHA_CHARS) return { text: quoted, problem: `is longer than ${MAX_ALPHA_CHARS} characters` };
  if (raw === '' || !ALPHA_TEXT.test(raw)) return { text: quoted, problem: 'is not a number' };
  const a = Number(raw);
  return Number.isFinite(a) ? { alpha: a } : { text: quoted, problem: 'is not a finite number' };
}

/** The notice for a link whose `a=` was refused (the α control shows it until α changes). */
export const useAlphaLinkNotice = create<{ notice?: string }>(() => ({}));

/** Refuses the hash's unreadable α aloud: says which α is used instead and writes that α into the hash. */
function refuse(read: { text: string; problem: string }, alpha: number): void {
  const used = Number.isFinite(alpha) ? String(alpha) : 'none';
  useAlphaLinkNotice.setState({ notice: `The link's α (${read.text || 'empty'}) ${read.problem}; using ${used}.` });
  writeAlpha(alpha);
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
  const fromUrl = readAlphaHash(location.hash);
  if ('alpha' in fromUrl && fromUrl.alpha !== st().merge.alpha) st().patchMerge({ alpha: fromUrl.alpha });
  if ('problem' in fromUrl) refuse(fromUrl, st().merge.alpha);
  const unsubscribe = useStudio.subscribe((s, prev) => {
    if (s.merge.alpha !== prev.merge.alpha) {
      writeAlpha(s.merge.alpha);
      // The user has chosen an α since: the link's refused one is no longer the story.
      if (useAlphaLinkNotice.getState().notice) useAlphaLinkNotice.setState({ notice: undefined });
    }
    // Making a share link replaces the whole hash with `#r=…`: α goes back beside it.
    else if (s.sweep.share !== prev.sweep.share && alphaFromHash(location.hash) === undefined && s.merge.alpha !== useStudio.getInitialState().merge.alpha) writeAlpha(s.merge.alpha);
  });
  const onHash = () => {
    const read = readAlphaHash(location.hash);
    if ('alpha' in read && read.alpha !== st().merge.alpha) st().patchMerge({ alpha: read.alpha });
    if ('problem' in read) refuse(read, st().merge.alpha);
  };
  window.addEventListener('hashchange', onHash);
  return () => {
    unsubscribe();
    window.removeEventListener('hashchange', onHash);
  };
}
