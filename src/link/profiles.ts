import { Worker } from 'node:worker_threads';
import { sql } from 'kysely';
import type { DbSession } from '../db/index.ts';
import { copyTextRows, detached, interner } from '../db/copy-out.ts';
import { hash53 } from '../util/hash.ts';
import type { LinkRecord } from './model.ts';
import { currentPersonRecordsSql, normaliseDob, normaliseName, normalisePostcode, toLinkRecord, type Normalisers, type PersonColumns } from './records.ts';

/**
 * Profiles: person records identical in every linkage field (and source and person id), grouped
 * as they are read from the database. Pure except {@link loadProfiles}, which reads them (on a
 * server, half of them on a worker thread: see profile-worker.ts).
 */

export interface LoadedRecord extends PersonColumns {
  source: string;
  record_id: string;
  person_ref: string | null;
}

export const recordKey = (source: string, recordId: string) => `${source}|${recordId}`;

export interface Profile extends LinkRecord {
  source: string;
  personRef: string;
  /** YYYYMMDD, '' when missing (as every LinkRecord from toLinkRecord has). */
  dob: string;
  /** As written, upper case ('' when blank). */
  sex: string;
}

/** Profiles of person records: each profile's fields, first record and number of records. */
export interface Profiles {
  profiles: Profile[];
  /** Per profile, its first record key (`source|record_id`, least in code-unit order): it names the profile in stored pairs. */
  firstRecord: string[];
  /** Per profile, how many records it groups. */
  recordsIn: number[];
  recordCount: number;
  /** Per profile, a 53-bit hash of its linkage fields (stored as person_record.linkage_key). */
  linkageKeys: number[];
}

/**
 * The profiles of the current records, with what earlier match runs made of their records. Each
 * record is known by the file and line it was loaded from, which also give its record id (see {@link ProfileByLine}).
 */
export interface LoadedProfiles extends Profiles {
  /** Per profile, 1 when one of its records is new or was linked with other fields last time. */
  fresh: Uint8Array;
  freshCount: number;
  /** Per profile, the earlier person ids of its records and how many records had each. */
  heldBy(profile: number): Iterable<[personId: number, records: number]>;
  /** Each current record's profile and record id, by file and line. */
  profileByLine: ProfileByLine;
  /** The profile of each record asked for by key (`source|record_id`); -1 when not current. */
  profileOfRecord: Map<string, number>;
}

/** One file's records as {@link ProfileByLine} keeps them, and hands them to another thread. */
export interface FileRecords {
  fileId: number;
  /** The extract the file is of (`attendance`, ...). */
  source: string;
  /** Each line's profile (-1: no record). */
  profiles: Int32Array;
  /** Each line's record id: `idLength[line]` bytes of UTF-8 from `idStart[line]` in `ids`. */
  idStart: Int32Array;
  idLength: Int32Array;
  ids: Uint8Array;
}

/**
 * Each record's profile and record id by the file and line it was loaded from (file ids and line
 * numbers are unique among the current files). A record id is kept as its UTF-8 bytes in one
 * buffer per file: some twenty bytes a record, where a million strings would cost some sixty
 * each and be garbage-collected over and over. The match stage writes each record's person
 * straight from here (record ids and all), with no join back to the raw rows.
 */
export class ProfileByLine {
  readonly #files = new Map<number, { source: string; profiles: Int32Array; idStart: Int32Array; idLength: Int32Array; ids: Buffer; idBytes: number }>();

  #file(fileId: number, source: string, line: number) {
    let file = this.#files.get(fileId);
    if (!file) {
      const size = Math.max(1024, line + 1);
      this.#files.set(fileId, (file = { source, profiles: new Int32Array(size).fill(-1), idStart: new Int32Array(size), idLength: new Int32Array(size), ids: Buffer.allocUnsafeSlow(size * 16), idBytes: 0 }));
    } else if (line >= file.profiles.length) {
      const size = Math.max(line + 1, file.profiles.length * 2);
      const profiles = new Int32Array(size).fill(-1);
      profiles.set(file.profiles);
      const idStart = new Int32Array(size);
      idStart.set(file.idStart);
      const idLength = new Int32Array(size);
      idLength.set(file.idLength);
      Object.assign(file, { profiles, idStart, idLength });
    }
    return file;
  }

  #roomForId(file: { ids: Buffer; idBytes: number }, bytes: number): void {
    if (file.idBytes + bytes <= file.ids.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(file.ids.length * 2, file.idBytes + bytes));
    file.ids.copy(grown, 0, 0, file.idBytes);
    file.ids = grown;
  }

  /** Record that line `line` of file `fileId` (an extract of `source`) is record `recordId`, in profile `profile` (at least 0). */
  set(fileId: number, line: number, profile: number, source: string, recordId: string | Uint8Array): void {
    const file = this.#file(fileId, source, line);
    file.profiles[line] = profile;
    if (typeof recordId === 'string') {
      this.#roomForId(file, recordId.length * 3);
      file.idLength[line] = file.ids.write(recordId, file.idBytes, 'utf8');
    } else {
      this.#roomForId(file, recordId.length);
      file.ids.set(recordId, file.idBytes);
      file.idLength[line] = recordId.length;
    }
    file.idStart[line] = file.idBytes;
    file.idBytes += file.idLength[line]!;
  }

  /** Replace every profile number by `change(profile)`. */
  mapProfiles(change: (profile: number) => number): void {
    for (const { profiles } of this.#files.values()) for (let line = 0; line < profiles.length; line++) if (profiles[line]! >= 0) profiles[line] = change(profiles[line]!);
  }

  /**
   * Every record's source, record id (its UTF-8 bytes, a view valid until the next {@link set})
   * and profile, file by file in line order.
   */
  *records(): Generator<[source: string, recordId: Uint8Array, profile: number]> {
    for (const { source, profiles, idStart, idLength, ids } of this.#files.values()) {
      for (let line = 0; line < profiles.length; line++) {
        if (profiles[line]! >= 0) yield [source, ids.subarray(idStart[line]!, idStart[line]! + idLength[line]!), profiles[line]!];
      }
    }
  }

  /** Each file's records, to hand to another thread (the typed arrays can be transferred). */
  files(): FileRecords[] {
    return [...this.#files].map(([fileId, f]) => ({ fileId, source: f.source, profiles: f.profiles, idStart: f.idStart, idLength: f.idLength, ids: f.ids.subarray(0, f.idBytes) }));
  }

  /** Add the records of `files` (as {@link files} gives them), their profiles moved up by `offset`. */
  addFiles(files: Iterable<FileRecords>, offset: number): void {
    for (const { fileId, source, profiles, idStart, idLength, ids } of files) {
      for (let line = profiles.length - 1; line >= 0; line--) {
        if (profiles[line]! >= 0) this.set(fileId, line, profiles[line]! + offset, source, ids.subarray(idStart[line]!, idStart[line]! + idLength[line]!));
      }
    }
  }
}

/** `normalise`, remembering each value's result (the cap only guards a pathological extract). */
function remembered(normalise: (value: string) => string): (value: string | null | undefined) => string {
  const seen = new Map<string, string>();
  return (value) => {
    const raw = value ?? '';
    let normal = seen.get(raw);
    if (normal === undefined) {
      if (seen.size > 1_000_000) seen.clear();
      seen.set(raw, (normal = normalise(raw)));
    }
    return normal;
  };
}

/**
 * normaliseName, with no lookup for a name of ASCII letters only (most names): its normal form is
 * its lower case. Looking up a remembered result took about 200 ns a fresh string (hashing it),
 * three times a record; the check and the lower case take a third of that.
 */
function plainName(remember: (value: string | null | undefined) => string): (value: string | null | undefined) => string {
  return (value) => {
    if (value === null || value === undefined || value.length === 0) return '';
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (!((c >= 97 && c <= 122) || (c >= 65 && c <= 90))) return remember(value);
    }
    return value.toLowerCase();
  };
}

/** normalisePostcode, with no lookup for a postcode of capitals and digits and at most one space (`SE21 2PA`). */
function plainPostcode(remember: (value: string | null | undefined) => string): (value: string | null | undefined) => string {
  return (value) => {
    if (value === null || value === undefined) return '';
    let space = -1;
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if ((c >= 65 && c <= 90) || (c >= 48 && c <= 57)) continue;
      if (c === 32 && space < 0) {
        space = i;
        continue;
      }
      return remember(value);
    }
    return space < 0 ? value : value.slice(0, space) + value.slice(space + 1);
  };
}

/**
 * normaliseDob of the profiles' COPY output (`YYYY-MM-DD`, the session's DateStyle: db/pg.ts)
 * by slicing: no regular expression, no lookup, nothing for the server to format.
 */
function compactDob(value: string | null | undefined): string {
  if (value?.length === 10 && value.charCodeAt(4) === 45 && value.charCodeAt(7) === 45) return value.slice(0, 4) + value.slice(5, 7) + value.slice(8);
  return normaliseDob(value);
}

/**
 * The normalisers a {@link ProfileBuilder} reads records with: the same results as records.ts's
 * (normaliseName, normaliseDob, normalisePostcode), each distinct spelling worked out once.
 */
export function profileNormalisers(): Normalisers {
  return { name: plainName(remembered(normaliseName)), dob: compactDob, postcode: plainPostcode(remembered(normalisePostcode)) };
}

/** What an earlier match run made of a record: its person and the linkage key of its fields then. */
interface Earlier {
  personId: number;
  linkageKey: number | null;
}

/**
 * Groups records identical in every linkage field (and source and person id) into profiles, as
 * they arrive, keeping per profile only its first record, its count and its records' earlier
 * people. Names, dates of birth and postcodes are normalised once per distinct spelling.
 */
export class ProfileBuilder {
  readonly profiles: Profile[] = [];
  readonly firstRecord: string[] = [];
  readonly recordsIn: number[] = [];
  readonly linkageKeys: number[] = [];
  readonly fresh: number[] = [];
  /** Per profile, the earlier person id of its first record seen with one (NaN: none yet), and how many records had it. */
  readonly heldId: number[] = [];
  readonly heldRecords: number[] = [];
  /** Other earlier ids of a profile's records (rare: a profile is one person in every run). */
  readonly moreHeld = new Map<number, Map<number, number>>();
  readonly profileByLine = new ProfileByLine();
  recordCount = 0;
  private index = new Map<string, number>();
  // Each distinct spelling normalised once: a council has a few thousand names, tens of thousands
  // of postcodes and birth dates, and a million records.
  private readonly normalise = profileNormalisers();
  private readonly shared = interner();

  /** Records to find the profile of (keys `source|record_id`), filled in as they come. */
  readonly profileOfRecord: Map<string, number>;

  constructor(profileOfRecord = new Map<string, number>()) {
    this.profileOfRecord = profileOfRecord;
  }

  /** The profile of a record's fields (a new one when no earlier record had them). */
  private profileOf(r: LoadedRecord): number {
    const link = toLinkRecord(r, this.normalise);
    const personRef = (r.person_ref ?? '').trim();
    const key = [r.source, personRef, link.forename, link.surname, link.dob, link.sex, link.postcode, link.uprn, link.houseNumber].join('\u0001');
    let at = this.index.get(key);
    if (at === undefined) {
      at = this.profiles.length;
      this.index.set(key, at);
      // Every property in one literal, so the object holds them itself (a spread put three in an
      // array of their own); values shared by many profiles are one string each.
      const { forename = '', surname = '', dob = '', sex = '', postcode = '', uprn = '', houseNumber = '' } = link;
      const shared = this.shared;
      this.profiles.push({
        forename, surname, dob, sex: shared(sex), postcode, uprn: shared(uprn), houseNumber: shared(houseNumber), source: shared(r.source), personRef: detached(personRef),
      });
      this.firstRecord.push(detached(recordKey(r.source, r.record_id)));
      this.recordsIn.push(0);
      this.linkageKeys.push(hash53(key));
      this.fresh.push(0);
      this.heldId.push(Number.NaN);
      this.heldRecords.push(0);
    }
    return at;
  }

  /** The last row added and its profile: a pupil's rows term after term arrive one after another. */
  private last: LoadedRecord | undefined;
  private lastAt = -1;

  private sameAsLast(r: LoadedRecord): boolean {
    const l = this.last;
    return (
      l !== undefined && l.source === r.source && l.person_ref === r.person_ref && l.forename === r.forename && l.surname === r.surname &&
      l.dob === r.dob && l.sex === r.sex && l.address === r.address && l.postcode === r.postcode && l.uprn === r.uprn
    );
  }

  /**
   * Add one record to its profile. `place`: the file and line it was loaded from, when known.
   * `earlier`: what the last match run made of it, when it was linked before.
   */
  add(r: LoadedRecord, place?: { fileId: number; line: number }, earlier?: Earlier): void {
    this.recordCount++;
    const at = this.sameAsLast(r) ? this.lastAt : this.profileOf(r);
    this.last = r;
    this.lastAt = at;
    if (place) this.profileByLine.set(place.fileId, place.line, at, r.source, r.record_id);
    this.recordsIn[at]!++;
    const key = recordKey(r.source, r.record_id);
    if (key < this.firstRecord[at]!) this.firstRecord[at] = detached(key);
    if (this.profileOfRecord.size > 0 && this.profileOfRecord.has(key)) this.profileOfRecord.set(key, at);
    if (earlier === undefined || earlier.linkageKey !== this.linkageKeys[at]) this.fresh[at] = 1;
    if (earlier === undefined) return;
    const held = this.heldId[at]!;
    if (Number.isNaN(held) || held === earlier.personId) {
      this.heldId[at] = earlier.personId;
      this.heldRecords[at]!++;
    } else {
      let more = this.moreHeld.get(at);
      if (!more) this.moreHeld.set(at, (more = new Map()));
      more.set(earlier.personId, (more.get(earlier.personId) ?? 0) + 1);
    }
  }

  /** What this builder holds, as a worker thread posts it (typed arrays to transfer, not copy). */
  state(): ProfileBuilderState {
    // Fields as one flat list of strings: objects sent whole arrive in shapes of their own, which
    // made every later pass over the profiles slower (scoring 7.5 -> 9.0 s at 1x).
    const fields: string[] = [];
    for (const p of this.profiles) fields.push(p.forename!, p.surname!, p.dob, p.sex, p.postcode!, p.uprn!, p.houseNumber!, p.source, p.personRef);
    return {
      fields,
      firstRecord: this.firstRecord,
      recordsIn: Int32Array.from(this.recordsIn),
      linkageKeys: Float64Array.from(this.linkageKeys),
      fresh: Uint8Array.from(this.fresh),
      heldId: Float64Array.from(this.heldId),
      heldRecords: Int32Array.from(this.heldRecords),
      moreHeld: [...this.moreHeld].map(([p, more]) => [p, [...more]]),
      files: this.profileByLine.files(),
      recordCount: this.recordCount,
      profileOfRecord: [...this.profileOfRecord].filter(([, p]) => p >= 0),
    };
  }

  /**
   * Take in another builder's profiles (its {@link state}). Their records must be in none of
   * this builder's profiles: builders given records of different birth dates never share one.
   */
  absorb(other: ProfileBuilderState): void {
    const offset = this.profiles.length;
    const shared = this.shared;
    const f = other.fields;
    for (let p = 0, at = 0; p < other.recordsIn.length; p++, at += 9) {
      this.profiles.push({
        forename: f[at]!, surname: f[at + 1]!, dob: f[at + 2]!, sex: shared(f[at + 3]!), postcode: f[at + 4]!, uprn: shared(f[at + 5]!),
        houseNumber: shared(f[at + 6]!), source: shared(f[at + 7]!), personRef: f[at + 8]!,
      });
      this.firstRecord.push(other.firstRecord[p]!);
      this.recordsIn.push(other.recordsIn[p]!);
      this.linkageKeys.push(other.linkageKeys[p]!);
      this.fresh.push(other.fresh[p]!);
      this.heldId.push(other.heldId[p]!);
      this.heldRecords.push(other.heldRecords[p]!);
    }
    for (const [p, more] of other.moreHeld) this.moreHeld.set(p + offset, new Map(more));
    this.profileByLine.addFiles(other.files, offset);
    for (const [key, p] of other.profileOfRecord) if (this.profileOfRecord.has(key)) this.profileOfRecord.set(key, p + offset);
    this.recordCount += other.recordCount;
  }

  /**
   * Everything, in a fixed order: profiles by their first record key, so the same records always
   * give the same profiles in the same order, whatever order they came in.
   */
  inFixedOrder(): LoadedProfiles {
    this.index = new Map(); // only needed while records come in
    const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    const order = this.profiles.map((_, i) => i).sort((a, b) => byCodeUnits(this.firstRecord[a]!, this.firstRecord[b]!));
    const newIndex = new Int32Array(order.length);
    order.forEach((old, i) => {
      newIndex[old] = i;
    });
    this.profileByLine.mapProfiles((p) => newIndex[p]!);
    for (const [key, p] of this.profileOfRecord) if (p >= 0) this.profileOfRecord.set(key, newIndex[p]!);
    const fresh = Uint8Array.from(order, (i) => this.fresh[i]!);
    return {
      profiles: order.map((i) => this.profiles[i]!),
      firstRecord: order.map((i) => this.firstRecord[i]!),
      recordsIn: order.map((i) => this.recordsIn[i]!),
      linkageKeys: order.map((i) => this.linkageKeys[i]!),
      recordCount: this.recordCount,
      fresh,
      freshCount: fresh.reduce((n, f) => n + f, 0),
      heldBy: heldLookup(
        Float64Array.from(order, (i) => this.heldId[i]!),
        Int32Array.from(order, (i) => this.heldRecords[i]!),
        new Map([...this.moreHeld].map(([p, more]) => [newIndex[p]!, more])),
      ),
      profileByLine: this.profileByLine,
      profileOfRecord: this.profileOfRecord,
    };
  }
}

/**
 * `LoadedProfiles.heldBy` over per-profile arrays. Made outside the builder: a closure made in
 * one of its methods would share that method's context, and with it the builder and all it holds.
 */
function heldLookup(heldId: Float64Array, heldRecords: Int32Array, moreHeld: Map<number, Map<number, number>>): LoadedProfiles['heldBy'] {
  return function* heldBy(p) {
    if (heldRecords[p]! > 0) yield [heldId[p]!, heldRecords[p]!];
    const more = moreHeld.get(p);
    if (more) yield* more;
  };
}

/** Group records identical in every linkage field (and source and person id) into profiles, in a fixed order. */
export function profilesOf(records: readonly LoadedRecord[]): Profiles {
  const builder = new ProfileBuilder();
  for (const r of records) builder.add(r);
  const { profiles, firstRecord, recordsIn, recordCount, linkageKeys } = builder.inFixedOrder();
  return { profiles, firstRecord, recordsIn, recordCount, linkageKeys };
}


/** A {@link ProfileBuilder}'s profiles as plain data and typed arrays: what a worker thread posts back. */
export interface ProfileBuilderState {
  /** Per profile, its nine fields in the order {@link ProfileBuilder.state} writes them. */
  fields: string[];
  firstRecord: string[];
  recordsIn: Int32Array;
  linkageKeys: Float64Array;
  fresh: Uint8Array;
  heldId: Float64Array;
  heldRecords: Int32Array;
  moreHeld: [profile: number, [personId: number, records: number][]][];
  files: FileRecords[];
  recordCount: number;
  profileOfRecord: [key: string, profile: number][];
}

/**
 * The COPY query of the current person records with what the last match run made of each.
 * `part` (0 or 1) keeps the records whose birth date falls on an even or odd day count (no birth
 * date: part 0): records of one profile share their birth date, so the two parts share no profile.
 */
export function profileRowsSql(part?: 0 | 1): string {
  const where = part === undefined ? '' : `WHERE abs(coalesce(r.dob - DATE '1900-01-01', 0)) % 2 = ${part}`;
  return `
    SELECT r.source, r.record_id, r.file_id, r.line, r.person_ref, r.forename, r.surname, r.dob, r.sex, r.address, r.postcode, r.uprn,
           pr.person_id, pr.linkage_key
    FROM (${currentPersonRecordsSql('record_id, file_id, line, person_ref, forename, surname, dob, sex, address, postcode, uprn')}) r
    LEFT JOIN core.person_record pr ON pr.source = r.source AND pr.record_id = r.record_id
    ${where}`;
}

/** Add every row of {@link profileRowsSql}'s COPY output to `builder`, as it comes. */
export async function addProfileRows(builder: ProfileBuilder, chunks: AsyncIterable<Uint8Array>): Promise<void> {
  for await (const rows of copyTextRows(chunks)) {
    for (const [source, recordId, fileId, line, personRef, forename, surname, dob, sex, address, postcode, uprn, personId, linkageKey] of rows) {
      const record: LoadedRecord = {
        source: source!,
        record_id: recordId!,
        person_ref: personRef ?? null,
        forename: forename ?? null,
        surname: surname ?? null,
        dob: dob ?? null,
        sex: sex ?? null,
        address: address ?? null,
        postcode: postcode ?? null,
        uprn: uprn ?? null,
      };
      const earlier = personId === null || personId === undefined ? undefined : { personId: Number(personId), linkageKey: linkageKey === null || linkageKey === undefined ? null : Number(linkageKey) };
      builder.add(record, { fileId: Number(fileId), line: Number(line) }, earlier);
    }
  }
}

/** What the profile worker is given (profile-worker.ts). */
export interface ProfileWorkerInput {
  /** Connection string of the server (the worker opens its own connection). */
  connection: string;
  /** A snapshot exported by the match transaction: the worker reads exactly what it reads. */
  snapshot: string;
  /** Record keys whose profile is wanted. */
  records: string[];
}

/**
 * The profiles of every current person record, read as COPY output with each record's person and
 * linkage key in the last match run, so the process never holds the loaded rows: only profiles,
 * and each record's profile and record id by file and line (some twenty bytes). Rows come in
 * storage order (sorting 1.9M rows on nine text columns in the database cost more than all the
 * rest); profiles are then put in a fixed order (by first record). `records`: record keys
 * (`source|record_id`) whose profile is wanted (see `profileOfRecord`).
 *
 * With `connection` (a server's connection string), the records are read in two halves at once:
 * half on this thread, half on a worker thread with a connection of its own that reads the same
 * snapshot (turning rows into profiles is the cost, and it takes one core: 13 s of the 1x run).
 * The profiles are the same either way.
 */
export async function loadProfiles(session: DbSession, records: Iterable<string> = [], opts: { connection?: string } = {}): Promise<LoadedProfiles> {
  const wanted = [...records];
  const builder = new ProfileBuilder(new Map(wanted.map((key) => [key, -1])));
  if (opts.connection === undefined) {
    await addProfileRows(builder, session.copyTo(profileRowsSql()));
    return builder.inFixedOrder();
  }
  const { rows } = await sql<{ snapshot: string }>`SELECT pg_export_snapshot() AS snapshot`.execute(session.kysely);
  const input: ProfileWorkerInput = { connection: opts.connection, snapshot: rows[0]!.snapshot, records: wanted };
  const worker = new Worker(new URL('./profile-worker.ts', import.meta.url), { workerData: input });
  const fromWorker = new Promise<ProfileBuilderState>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', (error) => reject(new Error('the profile worker thread failed', { cause: error })));
    worker.once('exit', (code) => reject(new Error(`the profile worker thread stopped (exit code ${code}) before it sent its profiles`)));
  });
  // Handled where it is awaited; until then a failure must not count as unhandled.
  fromWorker.catch(() => {});
  // Read this half while the worker reads the other; a failure here must not leave it running.
  try {
    await addProfileRows(builder, session.copyTo(profileRowsSql(0)));
    builder.absorb(await fromWorker);
  } finally {
    await worker.terminate();
  }
  return builder.inFixedOrder();
}
