/**
 * Stable person ids: this run's clusters are given the ids earlier runs gave their records, so
 * the same people keep the same ids month to month. Pure logic: no database.
 *
 * - A cluster whose records all had one earlier id keeps it.
 * - An earlier id whose records now lie in several clusters stays with the cluster holding most
 *   of them (ties: the cluster whose first record sorts first); the records in other clusters
 *   are a split, recorded as old id -> new id.
 * - A cluster holding the records of several earlier ids keeps the smallest id it holds the
 *   most of and the others are merged into it, recorded as old id -> kept id.
 * - A cluster with no earlier records gets a new id.
 */

export interface IdChange {
  kind: 'merge' | 'split';
  oldPersonId: number;
  /** The kept id, or for a split into a new person the cluster index (see `newIdFor`). */
  newPersonId: number | { cluster: number };
  records: number;
  reason: string;
}

export interface IdAssignment {
  /** Per cluster (index into `clusters`): its earlier id, or undefined for a new person. */
  personIdOf: (number | undefined)[];
  changes: IdChange[];
}

/**
 * `clusters` lists each cluster's record keys (sorted or not); `previous` gives a record key's
 * earlier person id where it had one.
 */
export function assignStableIds(clusters: readonly (readonly string[])[], previous: ReadonlyMap<string, number>): IdAssignment {
  const firstKey = clusters.map((keys) => keys.reduce((min, k) => (k < min ? k : min), keys[0] ?? ''));
  // For each earlier id: how many of its records each cluster holds.
  const holders = new Map<number, Map<number, number>>();
  clusters.forEach((keys, c) => {
    for (const key of keys) {
      const id = previous.get(key);
      if (id === undefined) continue;
      let byCluster = holders.get(id);
      if (!byCluster) holders.set(id, (byCluster = new Map()));
      byCluster.set(c, (byCluster.get(c) ?? 0) + 1);
    }
  });
  // Each earlier id goes to the cluster holding most of its records.
  const owned = new Map<number, number[]>();
  const ownerOf = new Map<number, number>();
  for (const [id, byCluster] of [...holders].sort((x, y) => x[0] - y[0])) {
    let best = -1;
    for (const [c, n] of byCluster) {
      const bestN = best < 0 ? -1 : byCluster.get(best)!;
      if (n > bestN || (n === bestN && firstKey[c]! < firstKey[best]!)) best = c;
    }
    ownerOf.set(id, best);
    owned.set(best, [...(owned.get(best) ?? []), id]);
  }
  const personIdOf: (number | undefined)[] = clusters.map(() => undefined);
  const changes: IdChange[] = [];
  clusters.forEach((_, c) => {
    const ids = owned.get(c);
    if (!ids || ids.length === 0) return;
    // Keep the id this cluster holds most records of; ties to the smallest (oldest) id.
    const count = (id: number) => holders.get(id)!.get(c)!;
    const kept = [...ids].sort((x, y) => count(y) - count(x) || x - y)[0]!;
    personIdOf[c] = kept;
    for (const id of ids) {
      if (id === kept) continue;
      changes.push({ kind: 'merge', oldPersonId: id, newPersonId: kept, records: count(id), reason: 'linked to the same person in this run' });
    }
  });
  for (const [id, byCluster] of holders) {
    const owner = ownerOf.get(id)!;
    for (const [c, n] of byCluster) {
      if (c === owner) continue;
      const target = personIdOf[c];
      // Records of this id went to a cluster that kept or merged another id: that is a split from this id.
      changes.push({
        kind: 'split',
        oldPersonId: id,
        newPersonId: target ?? { cluster: c },
        records: n,
        reason: target === undefined ? 'records now form a person of their own' : 'records now linked to another person',
      });
    }
  }
  changes.sort((x, y) => x.oldPersonId - y.oldPersonId || x.kind.localeCompare(y.kind));
  return { personIdOf, changes };
}
