import { describe, expect, it } from 'vitest';
import { ProfileByLine } from '../../src/link/profiles.ts';

/** Every record as `source|record id|profile`, in the order records() gives them. */
const recordsOf = (byLine: ProfileByLine) => [...byLine.records()].map(([source, id, p]) => `${source}|${Buffer.from(id).toString('utf8')}|${p}`);

describe('ProfileByLine', () => {
  it('keeps each record id by file and line, whatever order the lines come in and however long the ids', () => {
    const byLine = new ProfileByLine();
    const long = `ATT-${'x'.repeat(70_000)}`;
    // Lines out of order (two halves read at once), past the first allocation, ids not ASCII.
    byLine.set(7, 5000, 2, 'attendance', 'ATT-5000');
    byLine.set(7, 3, 0, 'attendance', 'ATT-Zoë');
    byLine.set(9, 2, 1, 'offending', '記録-2');
    byLine.set(7, 4, 1, 'attendance', long);
    byLine.set(9, 1, 3, 'offending', Buffer.from('OFF-1', 'utf8'));
    expect(recordsOf(byLine)).toEqual(['attendance|ATT-Zoë|0', `attendance|${long}|1`, 'attendance|ATT-5000|2', 'offending|OFF-1|3', 'offending|記録-2|1']);
    byLine.mapProfiles((p) => p * 10);
    expect([...byLine.records()].map(([, , p]) => p)).toEqual([0, 10, 20, 30, 10]);
  });

  it('hands its records to another (as a worker thread posts them) with their profiles moved up', () => {
    const worker = new ProfileByLine();
    worker.set(7, 10, 0, 'attendance', 'ATT-10');
    worker.set(8, 1, 1, 'employment', 'EMP-Zoë');
    const main = new ProfileByLine();
    main.set(7, 11, 0, 'attendance', 'ATT-11');
    // What arrives from a worker: copies of the typed arrays (structured clone), not the builder.
    main.addFiles(structuredClone(worker.files()), 5);
    expect(recordsOf(main)).toEqual(['attendance|ATT-10|5', 'attendance|ATT-11|0', 'employment|EMP-Zoë|6']);
  });
});
