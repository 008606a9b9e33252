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
  /** Per cluster (index into `firstKeys`): its earlier id, or undefined for a new person. */
  personIdOf: (number | undefined)[];
  changes: IdChange[];
}

/** Records of one cluster that an earlier run gave one person id. */
export interface Holding {
  cluster: number;
  personId: number;
  records: number;
}

/**
 * `firstKeys` gives each cluster's first record key (the tie-break: the cluster whose first record
 * sorts first); `holdings` says how many records of which cluster an earlier run gave which id
 * (a cluster and id may come more than once: the counts add up).
 */
export function assignStableIds(firstKeys: readonly string[], holdings: Iterable<Holding>): IdAssignment {
  // For each earlier id: how many of its records each cluster holds.
  const holders = new Map<number, Map<number, number>>();
  for (const { cluster, personId, records } of holdings) {
    let byCluster = holders.get(personId);
    if (!byCluster) holders.set(personId, (byCluster = new Map()));
    byCluster.set(cluster, (byCluster.get(cluster) ?? 0) + records);
  }
  // Each earlier id goes to the cluster holding most of its records.
  const owned = new Map<number, number[]>();
  const ownerOf = new Map<number, number>();
  for (const [id, byCluster] of [...holders].sort((x, y) => x[0] - y[0])) {
    let best = -1;
    for (const [c, n] of byCluster) {
      const bestN = best < 0 ? -1 : byCluster.get(best)!;
      if (n > bestN || (n === bestN && firstKeys[c]! < firstKeys[best]!)) best = c;
    }
    ownerOf.set(id, best);
    owned.set(best, [...(owned.get(best) ?? []), id]);
  }
  const personIdOf: (number | undefined)[] = firstKeys.map(() => undefined);
  const changes: IdChange[] = [];
  firstKeys.forEach((_, c) => {
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
