import { describe, expect, it } from 'vitest';
import { copyTextRows, detached } from '../../src/db/copy-out.ts';

async function* chunksOf(...texts: string[]): AsyncGenerator<Uint8Array> {
  for (const text of texts) yield new TextEncoder().encode(text);
}

describe('detached', () => {
  it('gives an equal string for short, long, multi-byte and very long values', () => {
    for (const value of ['', 'abc', 'attendance|ATT-0000012345', 'Zoë-Ångström O\u2019Brien, 12 Rue de l\u2019Église', 'x'.repeat(5000), '\u{1F600}'.repeat(200)]) {
      expect(detached(value)).toBe(value);
    }
  });

  it('keeps a field read from COPY output equal to what was read', async () => {
    const rows: (string | null)[][] = [];
    for await (const batch of copyTextRows(chunksOf('attendance\tATT-0000012345\tline one\\ttab\n', 'offending\t\\N\tx\n'))) rows.push(...batch);
    expect(rows.map((r) => r.map((f) => (f === null ? null : detached(f))))).toEqual([
      ['attendance', 'ATT-0000012345', 'line one\ttab'],
      ['offending', null, 'x'],
    ]);
  });
});
