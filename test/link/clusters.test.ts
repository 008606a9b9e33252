import { describe, expect, it } from 'vitest';
import { clusterMembers, datesReconcilable, pairGuard, type ClusterMember } from '../../src/link/clusters.ts';
import { assignStableIds } from '../../src/link/stable-ids.ts';

const m = (source: string, personRef: string, dob: string): ClusterMember => ({ source, personRef, dob });

describe('clusterMembers guards against chaining', () => {
  it('refuses a link joining two person ids of one source, even through a third record', () => {
    const members = [m('police', 'P1', '20100101'), m('school', 'U1', '20100101'), m('police', 'P2', '20100101')];
    const { clusterOf, refused } = clusterMembers(members, [
      { a: 0, b: 1, kind: 'probabilistic', weight: 20 },
      { a: 1, b: 2, kind: 'probabilistic', weight: 10 },
    ]);
    expect(clusterOf[0]).toBe(clusterOf[1]);
    expect(clusterOf[2]).not.toBe(clusterOf[1]);
    expect(refused).toEqual([undefined, 'different person ids in one source']);
  });

  it('takes the stronger link first, so a weak link cannot bridge', () => {
    const members = [m('police', 'P1', ''), m('school', 'U1', ''), m('police', 'P2', '')];
    // Given weak first in the list, the strong one still wins.
    const { clusterOf, refused } = clusterMembers(members, [
      { a: 0, b: 1, kind: 'probabilistic', weight: 2 },
      { a: 1, b: 2, kind: 'probabilistic', weight: 15 },
    ]);
    expect(clusterOf[1]).toBe(clusterOf[2]);
    expect(refused[0]).toBe('different person ids in one source');
  });

  it('refuses dates of birth that cannot be one date mistyped, and accepts those that can', () => {
    expect(datesReconcilable('20100312', '20101203')).toBe(true); // day and month transposed
    expect(datesReconcilable('20100312', '20100313')).toBe(true); // one digit
    expect(datesReconcilable('19870312', '19780312')).toBe(true); // adjacent digits swapped
    expect(datesReconcilable('20100312', '20150820')).toBe(false);
    const members = [m('a', '', '20100312'), m('b', '', '20100313'), m('c', '', '20150820')];
    const { refused } = clusterMembers(members, [
      { a: 0, b: 1, kind: 'probabilistic', weight: 9 },
      { a: 1, b: 2, kind: 'probabilistic', weight: 8 },
    ]);
    expect(refused).toEqual([undefined, 'irreconcilable dates of birth']);
  });

  it("obeys a reviewer's 'different' even against a deterministic link", () => {
    const members = [m('school', 'U1', ''), m('school', 'U1', ''), m('police', 'P1', '')];
    const { clusterOf, refused } = clusterMembers(
      members,
      [
        { a: 0, b: 1, kind: 'deterministic', weight: Infinity },
        { a: 1, b: 2, kind: 'probabilistic', weight: 30 },
      ],
      [[0, 2]],
    );
    expect(clusterOf[0]).toBe(clusterOf[1]);
    expect(clusterOf[2]).not.toBe(clusterOf[0]);
    expect(refused[1]).toBe('a reviewer decided different people');
  });
});

describe('assignStableIds', () => {
  /** Clusters of record keys, and each record's earlier id, in the form assignStableIds takes. */
  const assign = (clusters: string[][], previous: Map<string, number>) =>
    assignStableIds(
      clusters.map((keys) => [...keys].sort()[0]!),
      clusters.flatMap((keys, cluster) => keys.flatMap((key) => (previous.has(key) ? [{ cluster, personId: previous.get(key)!, records: 1 }] : []))),
    );

  it('keeps ids, gives new ones, and records merges and splits', () => {
    const previous = new Map([
      ['r1', 10],
      ['r2', 10],
      ['r3', 10],
      ['r4', 11],
      ['r5', 12],
    ]);
    // r1, r2 stay together; r3 leaves 10 for a cluster of its own; 11 and 12 are found to be one person; r6 is new.
    const { personIdOf, changes } = assign([['r1', 'r2'], ['r3'], ['r4', 'r5'], ['r6']], previous);
    expect(personIdOf).toEqual([10, undefined, 11, undefined]);
    expect(changes).toEqual([
      { kind: 'split', oldPersonId: 10, newPersonId: { cluster: 1 }, records: 1, reason: 'records now form a person of their own' },
      { kind: 'merge', oldPersonId: 12, newPersonId: 11, records: 1, reason: 'linked to the same person in this run' },
    ]);
  });

  it('is the identity when nothing changed', () => {
    const previous = new Map([
      ['a', 1],
      ['b', 1],
      ['c', 2],
    ]);
    expect(assign([['c'], ['b', 'a']], previous)).toEqual({ personIdOf: [2, 1], changes: [] });
  });

  it('adds up the records a cluster holds of one id, given in several holdings, and breaks ties by first record', () => {
    // Id 5's records: 1 + 1 in cluster 0, 2 in cluster 1: a tie, so it stays with cluster 0 (first key 'a').
    const { personIdOf, changes } = assignStableIds(['a', 'b'], [
      { cluster: 1, personId: 5, records: 2 },
      { cluster: 0, personId: 5, records: 1 },
      { cluster: 0, personId: 5, records: 1 },
    ]);
    expect(personIdOf).toEqual([5, undefined]);
    expect(changes).toEqual([{ kind: 'split', oldPersonId: 5, newPersonId: { cluster: 1 }, records: 2, reason: 'records now form a person of their own' }]);
  });
});

describe('pairGuard', () => {
  it('keeps apart two person ids of one source, and dates of birth that cannot be one date mistyped; nothing else', () => {
    expect(pairGuard(m('attendance', 'U1', '20120102'), m('attendance', 'U2', '20120102'))).toBe('different person ids in one source');
    expect(pairGuard(m('attendance', 'U1', '20120102'), m('offending', 'W9', '19990508'))).toBe('irreconcilable dates of birth');
    expect(pairGuard(m('attendance', 'U1', '20120102'), m('attendance', '', '20120201'))).toBeUndefined(); // day and month transposed
    expect(pairGuard(m('attendance', 'U1', '20120102'), m('offending', 'W9', '20120102'))).toBeUndefined();
    expect(pairGuard(m('attendance', 'U1', ''), m('attendance', 'U1', '20120102'))).toBeUndefined();
  });
});
