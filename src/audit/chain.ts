import { canonicalJson, GENESIS_HASH, sealHash } from './canonical.ts';

/**
 * Verifying the run chain, as pure logic over what was read from the database: the stored seals
 * in chain order, each with the content its records give now, and the runs that should be sealed
 * and are not. No database here, so every way a chain can break is unit-tested.
 */

/** A seal as stored in `audit.run_seal`. */
export interface StoredSeal {
  seq: number;
  runId: number;
  kind: string;
  content: string;
  prevHash: string;
  hash: string;
}

/** A stored seal with `audit.seal_content(...)` of its run now: null when the run record is gone or the version unknown. */
export interface SealToCheck {
  seal: StoredSeal;
  recomputed: unknown;
}

/** A run the chain should cover and does not. */
export interface UnsealedRun {
  runId: number;
  problem: 'no start seal' | 'ended with no end seal';
}

/** One value that differs between a seal and the records now; `undefined` = absent on that side. */
export interface Difference {
  path: string;
  sealed: unknown;
  now: unknown;
}

/** How a chain can be broken. */
export type ChainProblem =
  | { kind: 'gap'; seq: number; runId: number; expectedSeq: number }
  | { kind: 'link'; seq: number; runId: number; expected: string; found: string }
  | { kind: 'hash'; seq: number; runId: number; sealKind: string }
  | { kind: 'unreadable'; seq: number; runId: number; sealKind: string }
  | { kind: 'run-missing'; seq: number; runId: number; sealKind: string }
  | { kind: 'content'; seq: number; runId: number; sealKind: string; differences: Difference[] }
  | { kind: 'unsealed'; runId: number; problem: UnsealedRun['problem'] };

/** The verdict on a chain. */
export interface ChainReport {
  intact: boolean;
  seals: number;
  /** The last seal: quote its seq and hash to check later that nothing was cut from the end. */
  head: { seq: number; hash: string } | undefined;
  /** Every problem, the earliest in the chain first (unsealed runs after the seals, by run id). */
  problems: ChainProblem[];
}

/** At most this many differences are listed per seal (a replaced record can differ everywhere). */
const MAX_DIFFERENCES = 20;

/**
 * Where two JSON values differ, as paths like `run.args.window` or `inputs[0].sha256`, up to
 * `limit` of them. Objects are compared key by key, arrays element by element.
 */
export function jsonDifferences(sealed: unknown, now: unknown, path = '', limit = MAX_DIFFERENCES): Difference[] {
  const out: Difference[] = [];
  const walk = (a: unknown, b: unknown, at: string): void => {
    if (out.length >= limit) return;
    if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object' && Array.isArray(a) === Array.isArray(b)) {
      if (Array.isArray(a) && Array.isArray(b)) {
        for (let i = 0; i < Math.max(a.length, b.length); i++) walk(a[i], b[i], `${at}[${i}]`);
        return;
      }
      const ao = a as Record<string, unknown>;
      const bo = b as Record<string, unknown>;
      const keys = [...new Set([...Object.keys(ao), ...Object.keys(bo)])].sort();
      for (const k of keys) walk(ao[k], bo[k], at === '' ? k : `${at}.${k}`);
      return;
    }
    if (a === undefined && b === undefined) return;
    if (a !== undefined && b !== undefined && canonicalJson(a) === canonicalJson(b)) return;
    out.push({ path: at === '' ? '(whole content)' : at, sealed: a, now: b });
  };
  walk(sealed, now, path);
  return out;
}

/**
 * Check a chain: seals numbered 1, 2, 3... with no gap, each linked to the one before by
 * prev_hash (GENESIS_HASH for the first), each hash equal to sha256(prev_hash || content), and
 * each content equal to the canonical JSON of what its records give now. `seals` must be in seq
 * order.
 */
export function verifyChain(seals: SealToCheck[], unsealed: UnsealedRun[] = []): ChainReport {
  const problems: ChainProblem[] = [];
  let previous: StoredSeal | undefined;
  for (const { seal, recomputed } of seals) {
    const at = { seq: seal.seq, runId: seal.runId };
    const expectedSeq = previous ? previous.seq + 1 : 1;
    if (seal.seq !== expectedSeq) {
      // Seals were removed: the link below is then broken too, and says nothing more.
      problems.push({ kind: 'gap', ...at, expectedSeq });
    } else {
      const expected = previous ? previous.hash : GENESIS_HASH;
      if (seal.prevHash !== expected) problems.push({ kind: 'link', ...at, expected, found: seal.prevHash });
    }
    if (sealHash(seal.prevHash, seal.content) !== seal.hash) problems.push({ kind: 'hash', ...at, sealKind: seal.kind });
    if (recomputed === null || recomputed === undefined) {
      problems.push({ kind: 'run-missing', ...at, sealKind: seal.kind });
    } else if (canonicalJson(recomputed) !== seal.content) {
      let stored: unknown;
      try {
        stored = JSON.parse(seal.content);
      } catch {
        problems.push({ kind: 'unreadable', ...at, sealKind: seal.kind });
        previous = seal;
        continue;
      }
      const differences = jsonDifferences(stored, recomputed);
      // Equal values written differently (not canonical text): the seal text itself was edited.
      problems.push({ kind: 'content', ...at, sealKind: seal.kind, differences: differences.length > 0 ? differences : [{ path: '(text of the seal)', sealed: seal.content, now: canonicalJson(recomputed) }] });
    }
    previous = seal;
  }
  for (const u of [...unsealed].sort((a, b) => a.runId - b.runId)) problems.push({ kind: 'unsealed', runId: u.runId, problem: u.problem });
  return {
    intact: problems.length === 0,
    seals: seals.length,
    head: previous ? { seq: previous.seq, hash: previous.hash } : undefined,
    problems,
  };
}

/** A value for a message: JSON, cut short (the seal holds ids, hashes, counts and file names, not personal data). */
function shown(value: unknown): string {
  if (value === undefined) return '(absent)';
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** One line saying what is wrong, naming the run and, for content, what differs. */
export function describeProblem(p: ChainProblem): string {
  switch (p.kind) {
    case 'gap':
      return `seal ${p.seq} (run ${p.runId}) follows seal ${p.expectedSeq - 1}: seal${p.seq - p.expectedSeq > 1 ? `s ${p.expectedSeq}-${p.seq - 1} are` : ` ${p.expectedSeq} is`} missing (deleted from audit.run_seal)`;
    case 'link':
      return `seal ${p.seq} (run ${p.runId}) does not link to the seal before it: prev_hash ${p.found.slice(0, 12)}..., expected ${p.expected.slice(0, 12)}...`;
    case 'hash':
      return `seal ${p.seq} (run ${p.runId}, ${p.sealKind}) was edited: its hash is not sha256(prev_hash || content)`;
    case 'unreadable':
      return `seal ${p.seq} (run ${p.runId}, ${p.sealKind}) was edited: its content is not JSON`;
    case 'run-missing':
      return `run ${p.runId} (seal ${p.seq}, ${p.sealKind}): the run record is missing from audit.run (or the seal's version is unknown)`;
    case 'content': {
      const [first, ...rest] = p.differences;
      const more = rest.length > 0 ? ` (and ${rest.length} more: ${rest.map((d) => d.path).join(', ')})` : '';
      return `run ${p.runId} (seal ${p.seq}, ${p.sealKind}): ${first!.path} differs: sealed ${shown(first!.sealed)}, now ${shown(first!.now)}${more}`;
    }
    case 'unsealed':
      return `run ${p.runId} is not in the chain: ${p.problem} (its records were written outside tfclaims)`;
  }
}
