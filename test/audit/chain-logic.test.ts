import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson, GENESIS_HASH, sealHash } from '../../src/audit/canonical.ts';
import { describeProblem, jsonDifferences, verifyChain, type SealToCheck } from '../../src/audit/chain.ts';
import { AUDITOR_COLUMNS, AUDITOR_RELATIONS, FINANCE_RELATIONS, grantStatements, ROLES } from '../../src/audit/roles.ts';

/**
 * The pure half of tamper evidence: canonical JSON, the seal hash, chain verification (every way
 * a chain breaks) and the roles policy. No database.
 */

describe('canonical JSON', () => {
  it('sorts keys at every depth and writes no whitespace, whatever order the keys came in', () => {
    const a = { b: 1, a: { d: [3, { z: true, y: null }], c: 'x' } };
    const b = { a: { c: 'x', d: [3, { y: null, z: true }] }, b: 1 };
    expect(canonicalJson(a)).toBe('{"a":{"c":"x","d":[3,{"y":null,"z":true}]},"b":1}');
    expect(canonicalJson(b)).toBe(canonicalJson(a));
  });

  it('writes strings and numbers as JSON.stringify does: escapes, non-ASCII kept, no raw line breaks', () => {
    expect(canonicalJson('line\nbreak "quoted" \\ tab\t')).toBe('"line\\nbreak \\"quoted\\" \\\\ tab\\t"');
    expect(canonicalJson('Zoë £5')).toBe('"Zoë £5"');
    expect(canonicalJson([1.0, 0.25, -3, 1e21, 0])).toBe('[1,0.25,-3,1e+21,0]');
    expect(canonicalJson({ s: 'a\u0001' })).toBe('{"s":"a\\u0001"}');
    expect(canonicalJson({ x: 'a\nb', y: ['c\r\n'] })).not.toMatch(/[\n\r]/);
  });

  it('orders keys by UTF-16 code units (as RFC 8785), so upper case before lower and "a" before "aa"', () => {
    expect(canonicalJson({ b: 1, B: 2, aa: 3, a: 4, _: 5 })).toBe('{"B":2,"_":5,"a":4,"aa":3,"b":1}');
  });

  it('leaves out undefined object members, writes undefined array items as null, and refuses what JSON cannot hold', () => {
    expect(canonicalJson({ a: undefined, b: 2 })).toBe('{"b":2}');
    expect(canonicalJson([undefined, 1])).toBe('[null,1]');
    expect(() => canonicalJson(Number.NaN)).toThrow(/NaN/);
    expect(() => canonicalJson({ t: new Date() })).toThrow(/Date/);
    expect(() => canonicalJson(10n)).toThrow(/bigint/);
  });
});

describe('seal hash', () => {
  it('is sha256 of the previous hash followed by the content, as UTF-8, in lower-case hex', () => {
    const content = '{"kind":"start","v":1}';
    const expected = createHash('sha256').update(`${GENESIS_HASH}${content}`, 'utf8').digest('hex');
    expect(sealHash(GENESIS_HASH, content)).toBe(expected);
    expect(GENESIS_HASH).toBe('0'.repeat(64));
    // A known vector: sha256("abc").
    expect(sealHash('', 'abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sealHash(GENESIS_HASH, 'é')).toBe(createHash('sha256').update(Buffer.from(`${GENESIS_HASH}é`, 'utf8')).digest('hex'));
  });
});

/** A well-formed chain of seals for runs 1..n (start and end each), with the content its records give. */
function chain(n: number): SealToCheck[] {
  const out: SealToCheck[] = [];
  let prev = GENESIS_HASH;
  let seq = 0;
  for (let run = 1; run <= n; run++) {
    for (const kind of ['start', 'end'] as const) {
      seq++;
      const value = { v: 1, seq, kind, run: { run_id: run, command: 'test', args: { window: `W${run}` } }, ...(kind === 'end' ? { inputs: [{ file_id: run, sha256: 'a'.repeat(64) }] } : {}) };
      const content = canonicalJson(value);
      const hash = sealHash(prev, content);
      out.push({ seal: { seq, runId: run, kind, content, prevHash: prev, hash }, recomputed: structuredClone(value) });
      prev = hash;
    }
  }
  return out;
}

describe('verifyChain', () => {
  it('finds an untouched chain intact and gives its head', () => {
    const seals = chain(3);
    const report = verifyChain(seals);
    expect(report).toEqual({ intact: true, seals: 6, head: { seq: 6, hash: seals[5]!.seal.hash }, problems: [] });
    expect(verifyChain([])).toEqual({ intact: true, seals: 0, head: undefined, problems: [] });
  });

  it('names the run and the field when a record no longer matches its seal', () => {
    const seals = chain(3);
    (seals[3]!.recomputed as { inputs: { sha256: string }[] }).inputs[0]!.sha256 = 'b'.repeat(64);
    const report = verifyChain(seals);
    expect(report.intact).toBe(false);
    expect(report.problems).toEqual([
      { kind: 'content', seq: 4, runId: 2, sealKind: 'end', differences: [{ path: 'inputs[0].sha256', sealed: 'a'.repeat(64), now: 'b'.repeat(64) }] },
    ]);
    expect(describeProblem(report.problems[0]!)).toBe(`run 2 (seal 4, end): inputs[0].sha256 differs: sealed "${'a'.repeat(64)}", now "${'b'.repeat(64)}"`);
  });

  it('reports the earliest problem first when several records changed', () => {
    const seals = chain(3);
    (seals[4]!.recomputed as { run: { args: unknown } }).run.args = { window: 'other' };
    (seals[1]!.recomputed as { run: { command: string } }).run.command = 'edited';
    const report = verifyChain(seals);
    expect(report.problems.map((p) => [p.kind, 'seq' in p ? p.seq : 0])).toEqual([
      ['content', 2],
      ['content', 5],
    ]);
    expect(describeProblem(report.problems[0]!)).toBe('run 1 (seal 2, end): run.command differs: sealed "test", now "edited"');
  });

  it('catches a seal whose text was edited (hash no longer matches) and one whose text is no longer JSON', () => {
    const seals = chain(2);
    seals[1]!.seal.content = seals[1]!.seal.content.replace('"W1"', '"W9"');
    let report = verifyChain(seals);
    expect(report.problems.map((p) => p.kind)).toEqual(['hash', 'content']);
    expect(describeProblem(report.problems[0]!)).toBe('seal 2 (run 1, end) was edited: its hash is not sha256(prev_hash || content)');
    const broken = chain(2);
    broken[2]!.seal.content = 'not json';
    report = verifyChain(broken);
    expect(report.problems.map((p) => p.kind)).toEqual(['hash', 'unreadable']);
  });

  it('catches a seal rewritten with a fresh hash (by whoever edited a record): the next seal no longer links to it', () => {
    const seals = chain(3);
    const s = seals[2]!;
    (s.recomputed as { run: { args: unknown } }).run.args = { window: 'forged' };
    s.seal.content = canonicalJson(s.recomputed);
    s.seal.hash = sealHash(s.seal.prevHash, s.seal.content);
    const report = verifyChain(seals);
    expect(report.problems).toEqual([{ kind: 'link', seq: 4, runId: 2, expected: s.seal.hash, found: seals[3]!.seal.prevHash }]);
    expect(describeProblem(report.problems[0]!)).toMatch(/^seal 4 \(run 2\) does not link to the seal before it/);
  });

  it('catches seals deleted from the start or the middle, and a run record that is gone', () => {
    const seals = chain(3);
    let report = verifyChain([...seals.slice(0, 2), ...seals.slice(4)]);
    expect(report.problems).toEqual([{ kind: 'gap', seq: 5, runId: 3, expectedSeq: 3 }]);
    expect(describeProblem(report.problems[0]!)).toBe('seal 5 (run 3) follows seal 2: seals 3-4 are missing (deleted from audit.run_seal)');
    report = verifyChain(seals.slice(1));
    expect(report.problems[0]).toMatchObject({ kind: 'gap', seq: 2, expectedSeq: 1 });
    expect(describeProblem(report.problems[0]!)).toMatch(/seal 1 is missing/);
    const gone = chain(2);
    gone[2]!.recomputed = null;
    report = verifyChain(gone);
    expect(report.problems).toEqual([{ kind: 'run-missing', seq: 3, runId: 2, sealKind: 'start' }]);
  });

  it('catches runs the chain does not cover, after the seal problems, by run id', () => {
    const report = verifyChain(chain(1), [
      { runId: 9, problem: 'ended with no end seal' },
      { runId: 4, problem: 'no start seal' },
    ]);
    expect(report.problems).toEqual([
      { kind: 'unsealed', runId: 4, problem: 'no start seal' },
      { kind: 'unsealed', runId: 9, problem: 'ended with no end seal' },
    ]);
    expect(describeProblem(report.problems[0]!)).toBe('run 4 is not in the chain: no start seal (its records were written outside tfclaims)');
  });

  it('lists differences by path: added and removed keys, array lengths, nested values', () => {
    expect(jsonDifferences({ a: 1, b: { c: [1, 2] } }, { a: 1, b: { c: [1, 3, 4] }, d: 'x' })).toEqual([
      { path: 'b.c[1]', sealed: 2, now: 3 },
      { path: 'b.c[2]', sealed: undefined, now: 4 },
      { path: 'd', sealed: undefined, now: 'x' },
    ]);
    expect(jsonDifferences({ a: { x: 1 } }, { a: null })).toEqual([{ path: 'a', sealed: { x: 1 }, now: null }]);
    expect(jsonDifferences(1, 2)).toEqual([{ path: '(whole content)', sealed: 1, now: 2 }]);
    expect(jsonDifferences({ a: [1] }, { a: [1] })).toEqual([]);
  });
});

describe('roles policy', () => {
  const grants = (role: 'auditor' | 'finance' | 'pipeline') => grantStatements(role).filter((s) => s.startsWith('GRANT') || s.includes(' GRANT '));

  it('starts every role from nothing in this database (revokes first), so grants made by hand do not linger', () => {
    for (const role of ['auditor', 'finance', 'pipeline'] as const) {
      const statements = grantStatements(role);
      expect(statements[0]).toBe(`REVOKE ALL ON ALL TABLES IN SCHEMA raw, core, audit, tfclaims_meta FROM ${ROLES[role]}`);
      expect(statements.findIndex((s) => s.startsWith('GRANT'))).toBeGreaterThan(statements.findLastIndex((s) => s.startsWith('REVOKE')));
    }
  });

  it('gives the auditor no raw table, no personal core table and no reject values', () => {
    const text = grants('auditor').join('\n');
    expect(text).not.toMatch(/\braw\b/);
    expect(AUDITOR_RELATIONS.filter((r) => r.startsWith('core.'))).toEqual(['core.rules_evaluation']);
    expect(text).not.toMatch(/ALL TABLES/);
    expect(AUDITOR_COLUMNS['audit.reject']).not.toContain('value');
    expect(AUDITOR_COLUMNS['audit.reject']).not.toContain('reason');
    expect(text).toContain('GRANT SELECT (reject_id, file_id, run_id, source, line, column_name) ON audit.reject TO tfclaims_auditor');
    expect(text).not.toMatch(/INSERT|UPDATE|DELETE/);
  });

  it('gives finance the run chain only, and the pipeline no UPDATE or DELETE on the audit trail', () => {
    expect(FINANCE_RELATIONS).toEqual(['audit.run_chain']);
    expect(grants('finance')).toEqual(['GRANT USAGE ON SCHEMA audit TO tfclaims_finance', 'GRANT SELECT ON audit.run_chain TO tfclaims_finance']);
    const pipeline = grants('pipeline');
    expect(pipeline.filter((s) => /\baudit\b/.test(s) && /UPDATE|DELETE/.test(s))).toEqual([]);
    expect(pipeline).toContain('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA raw, core TO tfclaims_pipeline');
  });
});
