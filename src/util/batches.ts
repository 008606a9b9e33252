/** Call `fn` on consecutive slices of `items` of at most `size` (bounded statement sizes for unnest inserts). */
export async function batches<T>(items: readonly T[], size: number, fn: (batch: T[]) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await fn(items.slice(i, i + size));
}
