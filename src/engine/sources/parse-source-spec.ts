import { SourceSpecError } from '../errors.ts';

export type SourceSpec = { kind: 'hub'; repo: string; revision?: string } | { kind: 'local'; path: string };

/** Hub repo ids: `owner/name`, letters, digits, `-`, `_`, `.`; at most 96 characters per part. */
const REPO_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,95}\/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;
/** Branch, tag or commit: no whitespace, no `..`, nothing a URL would reinterpret. */
const REVISION = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$/;

/** Parses `hf:owner/name[@revision]` (CLI, share URLs) or a local path. */
export function parseSourceSpec(spec: string): SourceSpec {
  const s = spec.trim();
  if (s.startsWith('hf:')) return parseHubId(s.slice(3), spec);
  if (s === '') throw new SourceSpecError('Empty source: give hf:owner/name[@revision] or a folder path.');
  return { kind: 'local', path: s };
}

/** Parses `owner/name[@revision]` as typed into a slot in the page (the `hf:` prefix optional). */
export function parseHubId(id: string, original = id): { kind: 'hub'; repo: string; revision?: string } {
  const trimmed = id.trim().replace(/^hf:/, '');
  const at = trimmed.indexOf('@');
  const repo = at < 0 ? trimmed : trimmed.slice(0, at);
  const revision = at < 0 ? undefined : trimmed.slice(at + 1);
  if (!REPO_ID.test(repo) || repo.includes('..')) {
    throw new SourceSpecError(`"${original}" is not a Hugging Face model id: expected owner/name or owner/name@revision.`);
  }
  if (revision !== undefined && (!REVISION.test(revision) || revision.includes('..'))) {
    throw new SourceSpecError(`"${original}": revision "${revision}" is not a valid branch, tag or commit.`);
  }
  return { kind: 'hub', repo, revision };
}
