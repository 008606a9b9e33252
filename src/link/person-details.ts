/**
 * Each person's date of birth and sex as the rules use them, from the match stage's profiles:
 * the register's where the person is on it, else what most of their records say (ties: the
 * earliest date; F before M). Pure: no database. Reading them here, from profiles already in
 * memory, replaced a query that joined every current record to its person again (10 s of a 1x
 * run, 41 s at 4x).
 */

/** What a profile (a group of identical records) tells of its person. */
export interface DetailSource {
  source: string;
  /** YYYYMMDD, '' when missing. */
  dob: string;
  /** As the record has it (compared trimmed and upper case). */
  sex: string;
}

/** A person's details: `dob` as YYYY-MM-DD, null when none of their records has one; `sex` M or F, else null. */
export interface PersonDetail {
  personId: number;
  dob: string | null;
  sex: 'M' | 'F' | null;
}

interface Tally {
  onRegister: boolean;
  records: number;
}

/** The value with the most weight: on the register first, then most records, then the least value ('' last). */
function best(tallies: Map<string, Tally>): string | undefined {
  let chosen: string | undefined;
  let top: Tally | undefined;
  for (const [value, t] of tallies) {
    const better =
      !top ||
      (t.onRegister !== top.onRegister
        ? t.onRegister
        : t.records !== top.records
          ? t.records > top.records
          : value !== '' && (chosen === '' || value < chosen!));
    if (better) [chosen, top] = [value, t];
  }
  return chosen;
}

function add(tallies: Map<string, Tally>, value: string, onRegister: boolean, records: number): void {
  const t = tallies.get(value);
  if (t) {
    t.onRegister ||= onRegister;
    t.records += records;
  } else tallies.set(value, { onRegister, records });
}

/**
 * The details of every person with a profile, in order of person id. `recordsIn[p]` is how many
 * records profile p groups; `personOf(p)` its person.
 */
export function* personDetails(
  profiles: readonly DetailSource[],
  recordsIn: readonly number[],
  personOf: (profile: number) => number,
): Generator<PersonDetail> {
  const order = Int32Array.from({ length: profiles.length }, (_, p) => p).sort((x, y) => personOf(x) - personOf(y) || x - y);
  let at = 0;
  while (at < order.length) {
    const personId = personOf(order[at]!);
    const dobs = new Map<string, Tally>();
    const sexes = new Map<string, Tally>();
    for (; at < order.length && personOf(order[at]!) === personId; at++) {
      const p = order[at]!;
      const profile = profiles[p]!;
      const onRegister = profile.source === 'attachments';
      add(dobs, profile.dob, onRegister, recordsIn[p]!);
      const sex = profile.sex.trim().toUpperCase();
      if (sex === 'M' || sex === 'F') add(sexes, sex, onRegister, recordsIn[p]!);
    }
    const dob = best(dobs)!;
    yield {
      personId,
      dob: dob === '' ? null : `${dob.slice(0, 4)}-${dob.slice(4, 6)}-${dob.slice(6, 8)}`,
      sex: (best(sexes) as 'M' | 'F' | undefined) ?? null,
    };
  }
}
