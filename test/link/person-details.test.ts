import { describe, expect, it } from 'vitest';
import { personDetails, type DetailSource } from '../../src/link/person-details.ts';

const profile = (source: string, dob: string, sex = ''): DetailSource => ({ source, dob, sex });

describe('person details from profiles', () => {
  it('takes the register\'s date of birth and sex, else what most records say, ties to the earliest date and F', () => {
    const profiles = [
      profile('attendance', '20120304', 'M'), // person 7: 5 records
      profile('attachments', '20120403', 'F'), // person 7: on the register, 1 record
      profile('employment', '19800101', 'M'), // person 3: 2 records
      profile('offending', '19800102', 'F'), // person 3: 2 records
      profile('offending', '', 'U'), // person 3: 9 records, no date and no M/F
      profile('social_care', '', ' m'), // person 5: lower case with a space, as some systems write it
    ];
    const recordsIn = [5, 1, 2, 2, 9, 1];
    const personOf = [7, 7, 3, 3, 3, 5];
    expect([...personDetails(profiles, recordsIn, (p) => personOf[p]!)]).toEqual([
      // Missing dates count, and here win on records: nine records have none.
      { personId: 3, dob: null, sex: 'F' },
      { personId: 5, dob: null, sex: 'M' },
      { personId: 7, dob: '2012-04-03', sex: 'F' },
    ]);
  });

  it('prefers a date to none when the records tie, and the earlier of two dates', () => {
    const profiles = [profile('offending', ''), profile('attendance', '20100505'), profile('employment', '20100404')];
    expect([...personDetails(profiles, [1, 1, 1], () => 1)]).toEqual([{ personId: 1, dob: '2010-04-04', sex: null }]);
  });
});
