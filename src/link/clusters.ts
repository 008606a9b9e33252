/**
 * People as connected components of linked records, guarded against chaining: a link is refused
 * when it would put into one person two records of one source with different person ids, two
 * dates of birth that cannot be the same date mistyped, or two records a reviewer said are
 * different people. Links are taken strongest first, so a weak link cannot bridge two people
 * that strong links have already formed. Pure logic: no database.
 */

/** What clustering needs to know of a profile (a group of identical source records). */
export interface ClusterMember {
  source: string;
  /** The source system's person id; '' when blank. */
  personRef: string;
  /** Date of birth as YYYYMMDD; '' when missing. */
  dob: string;
}

/** A link to consider: two members (indexes), why, and how strong (higher is taken first). */
export interface CandidateLink {
  a: number;
  b: number;
  /** `previous`: two profiles an earlier run put in one person, neither changed since (incremental runs). */
  kind: 'review' | 'previous' | 'deterministic' | 'probabilistic';
  weight: number;
}

/** Why a link was refused (for the evidence). */
export type Refusal = 'different person ids in one source' | 'irreconcilable dates of birth' | 'a reviewer decided different people';

/** Whether two dates of birth could be one date recorded with an error: equal, day and month transposed, or one character apart. */
export function datesReconcilable(a: string, b: string): boolean {
  if (a === '' || b === '' || a === b) return true;
  if (a.length === 8 && b.length === 8 && `${a.slice(0, 4)}${a.slice(6, 8)}${a.slice(4, 6)}` === b) return true;
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) diff++;
  if (diff <= 1) return true;
  // Two adjacent characters swapped (1987 / 1978).
  for (let i = 0; i + 1 < a.length; i++) {
    if (a[i] !== b[i]) return diff === 2 && a[i] === b[i + 1] && a[i + 1] === b[i];
  }
  return false;
}

/**
 * Whether the guards keep two members apart whatever else links them: two different person ids of
 * one source, or dates of birth that cannot be one date mistyped. (Clustering also refuses links
 * that would join such members through others; this is the check on the pair alone.)
 */
export function pairGuard(a: ClusterMember, b: ClusterMember): Refusal | undefined {
  if (a.source === b.source && a.personRef !== '' && b.personRef !== '' && a.personRef !== b.personRef) return 'different person ids in one source';
  if (!datesReconcilable(a.dob, b.dob)) return 'irreconcilable dates of birth';
  return undefined;
}

/**
 * What a cluster holds that a link could contradict. Small arrays, not a Map and a Set: at 1x
 * there are 600k clusters of more than one profile, nearly all with one person id per source
 * and one or two dates of birth. Measured with one id and one date: 564 bytes a group with a Map
 * and a Set, 236 with arrays (340 MB and 140 MB at 1x).
 */
interface Group {
  /** Source and person id, in turn (`[source, ref, source, ref, ...]`; '' never stored), one pair per source. */
  refs: string[];
  /** Distinct dates of birth. */
  dobs: string[];
  /** Members a reviewer said are different from some member of this group (undefined: none). */
  forbidden: number[] | undefined;
}

/**
 * Cluster `members` by `links`, strongest first (review decisions, then earlier runs' people,
 * then deterministic links, then probabilistic links by weight). `different` lists member pairs a reviewer said are
 * different people. Returns each member's cluster (the smallest member index in it) and, per
 * link in input order, undefined when taken or why it was refused.
 */
export function clusterMembers(
  members: readonly ClusterMember[],
  links: readonly CandidateLink[],
  different: readonly [number, number][] = [],
): { clusterOf: Int32Array; refused: (Refusal | undefined)[] } {
  // Plain loops: Int32Array.from(list, fn) goes through the iterator protocol, twice as slow.
  const parent = new Int32Array(members.length);
  for (let i = 0; i < parent.length; i++) parent[i] = i;
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]!]!;
      i = parent[i]!;
    }
    return i;
  };
  const groups = new Map<number, Group>();
  const groupOf = (root: number): Group => {
    let g = groups.get(root);
    if (!g) {
      const m = members[root]!;
      g = { refs: m.personRef ? [m.source, m.personRef] : [], dobs: m.dob ? [m.dob] : [], forbidden: undefined };
      groups.set(root, g);
    }
    return g;
  };
  const forbid = (g: Group, member: number) => (g.forbidden ??= []).push(member);
  for (const [a, b] of different) {
    forbid(groupOf(find(a)), b);
    forbid(groupOf(find(b)), a);
  }
  // The order's keys in typed arrays: a million links sorted by reading their objects cost twice as much.
  const rank = { review: 0, previous: 1, deterministic: 2, probabilistic: 3 } as const;
  const linkRank = new Int8Array(links.length);
  const linkWeight = new Float64Array(links.length);
  const order = new Int32Array(links.length);
  for (let i = 0; i < links.length; i++) {
    linkRank[i] = rank[links[i]!.kind];
    linkWeight[i] = links[i]!.weight;
    order[i] = i;
  }
  order.sort((x, y) => linkRank[x]! - linkRank[y]! || linkWeight[y]! - linkWeight[x]! || x - y);
  const refused: (Refusal | undefined)[] = links.map(() => undefined);
  for (const index of order) {
    const link = links[index]!;
    const ra = find(link.a);
    const rb = find(link.b);
    if (ra === rb) continue;
    const ga = groupOf(ra);
    const gb = groupOf(rb);
    let why: Refusal | undefined;
    for (let i = 0; i < gb.refs.length && !why; i += 2) {
      for (let j = 0; j < ga.refs.length; j += 2) {
        if (ga.refs[j] === gb.refs[i] && ga.refs[j + 1] !== gb.refs[i + 1]) why = 'different person ids in one source';
      }
    }
    if (!why) {
      outer: for (const x of ga.dobs) for (const y of gb.dobs) if (!datesReconcilable(x, y)) {
        why = 'irreconcilable dates of birth';
        break outer;
      }
    }
    if (!why && (ga.forbidden?.some((m) => find(m) === rb) || gb.forbidden?.some((m) => find(m) === ra))) why = 'a reviewer decided different people';
    if (why) {
      refused[index] = why;
      continue;
    }
    // Union into the smaller index, so a cluster's id is its smallest member.
    const [keep, drop] = ra < rb ? [ra, rb] : [rb, ra];
    const gk = keep === ra ? ga : gb;
    const gd = keep === ra ? gb : ga;
    parent[drop] = keep;
    // Refs agree where both have a source (else refused above): add the sources only the dropped group has.
    for (let i = 0; i < gd.refs.length; i += 2) {
      let known = false;
      for (let j = 0; j < gk.refs.length && !known; j += 2) known = gk.refs[j] === gd.refs[i];
      if (!known) gk.refs.push(gd.refs[i]!, gd.refs[i + 1]!);
    }
    for (const d of gd.dobs) if (!gk.dobs.includes(d)) gk.dobs.push(d);
    if (gd.forbidden) for (const m of gd.forbidden) forbid(gk, m);
    groups.delete(drop);
  }
  const clusterOf = new Int32Array(members.length);
  for (let i = 0; i < clusterOf.length; i++) clusterOf[i] = find(i);
  return { clusterOf, refused };
}
