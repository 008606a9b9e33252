import { dayOf, isoOf, ukOf } from './calendar.ts';
import type { Corruption } from './writer.ts';

/**
 * Rows made invalid on purpose, the way real extracts go wrong: impossible or mistyped dates,
 * blank required cells, words in number columns, absences exceeding sessions, spells ending
 * before they start, codes from another system, and ids repeated within a file. Each kind names
 * the column ingest should blame. Cell positions follow the canonical column order (sources.ts).
 */

const DOB = 5;

function dateStyle(text: string): 'iso' | 'uk' {
  return text.includes('/') ? 'uk' : 'iso';
}

function yearOfText(text: string): string {
  const iso = /^(\d{4})-/.exec(text);
  if (iso) return iso[1]!;
  const uk = /\/(\d{4})$/.exec(text);
  return uk ? uk[1]! : '2012';
}

function shiftText(text: string, days: number): string {
  const style = dateStyle(text);
  const iso = style === 'uk' ? `${text.slice(6, 10)}-${text.slice(3, 5)}-${text.slice(0, 2)}` : text;
  const day = dayOf(iso) + days;
  return style === 'uk' ? ukOf(day) : isoOf(day);
}

const impossibleDate = (column: string, index: number): Corruption => ({
  kind: 'impossible_date',
  apply(cells, rng) {
    const year = yearOfText(cells[index]!);
    const [d, m] = rng.pick([['30', '02'], ['31', '04'], ['31', '06'], ['31', '09'], ['31', '11'], ['29', '02']] as const);
    // 29 February only in a year that has none.
    const y = d === '29' ? String(Number(year) - (Number(year) % 4) + 1) : year;
    cells[index] = dateStyle(cells[index]!) === 'uk' ? `${d}/${m}/${y}` : `${y}-${m}-${d}`;
    return column;
  },
});

const misformattedDate = (column: string, index: number): Corruption => ({
  kind: 'not_a_date',
  apply(cells, rng) {
    const text = cells[index]!;
    const iso = dateStyle(text) === 'uk' ? `${text.slice(6, 10)}-${text.slice(3, 5)}-${text.slice(0, 2)}` : text;
    cells[index] = rng.pick([iso.replace(/-/g, '.'), `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}`, `${iso.slice(8, 10)}-${iso.slice(5, 7)}-${iso.slice(2, 4)}`, 'unknown', '00/00/0000']);
    return column;
  },
});

const futureDob: Corruption = {
  kind: 'dob_in_future',
  apply(cells) {
    const text = cells[DOB]!;
    const year = '2090'; // fixed, so output depends only on the seed
    cells[DOB] = dateStyle(text) === 'uk' ? `${text.slice(0, 6)}${year}` : `${year}${text.slice(4)}`;
    return 'dob';
  },
};

const blankForename: Corruption = {
  kind: 'required_blank',
  apply(cells) {
    cells[2] = '';
    return 'forename';
  },
};

const badUprn: Corruption = {
  kind: 'not_a_uprn',
  apply(cells, rng) {
    cells[9] = rng.pick(['UPRN unknown', '1000234567891234', '10002345-6789']);
    return 'uprn';
  },
};

const duplicateId: Corruption = {
  kind: 'duplicate_record_id',
  apply(cells, rng, recentIds) {
    if (recentIds.length === 0) return undefined;
    cells[0] = rng.pick(recentIds);
    return 'record_id';
  },
};

const PERSON_CORRUPTIONS = [impossibleDate('dob', DOB), misformattedDate('dob', DOB), futureDob, blankForename, badUprn, duplicateId];

export const CORRUPTIONS: Record<'attendance' | 'offending' | 'employment' | 'social_care', readonly Corruption[]> = {
  attendance: [
    ...PERSON_CORRUPTIONS,
    {
      kind: 'not_a_whole_number',
      apply(cells, rng) {
        const i = rng.pick([13, 14, 15]);
        cells[i] = rng.pick(['ten', '3.5', '-2', 'n/a']);
        return ['sessions_possible', 'sessions_authorised', 'sessions_unauthorised'][i - 13];
      },
    },
    {
      kind: 'absence_exceeds_possible',
      apply(cells, rng) {
        const possible = Number(cells[13]);
        const unauthorised = Number(cells[15]);
        cells[14] = String(Math.max(0, possible - unauthorised) + rng.int(1, 20));
        return 'sessions_possible';
      },
    },
    {
      kind: 'term_end_before_start',
      apply(cells) {
        [cells[10], cells[11]] = [cells[11]!, cells[10]!];
        return 'term_end';
      },
    },
    impossibleDate('term_start', 10),
  ],
  offending: [
    ...PERSON_CORRUPTIONS,
    impossibleDate('event_date', 10),
    misformattedDate('event_date', 10),
    {
      kind: 'unknown_code',
      apply(cells, rng) {
        cells[11] = rng.pick(['burglary', 'ASB', 'stop_and_search', 'Crime']);
        return 'event_type';
      },
    },
  ],
  employment: [
    ...PERSON_CORRUPTIONS,
    {
      kind: 'ends_before_start',
      apply(cells, rng) {
        cells[14] = shiftText(cells[13]!, -rng.int(1, 400));
        return 'end_date';
      },
    },
    {
      kind: 'benefit_type_missing',
      apply(cells) {
        if (cells[10] !== 'benefit') return undefined;
        cells[11] = '';
        return 'benefit_type';
      },
    },
    impossibleDate('start_date', 13),
  ],
  social_care: [
    ...PERSON_CORRUPTIONS,
    {
      kind: 'unknown_code',
      apply(cells, rng) {
        cells[10] = rng.pick(['s47', 'child_in_need', 'CP', 'section_17']);
        return 'episode_type';
      },
    },
    {
      kind: 'ends_before_start',
      apply(cells, rng) {
        cells[12] = shiftText(cells[11]!, -rng.int(1, 300));
        return 'end_date';
      },
    },
  ],
};
