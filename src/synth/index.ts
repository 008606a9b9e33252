import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { UsageError } from '../errors.ts';
import { columnNames } from '../ingest/sources.ts';
import { silentLogger } from '../log/logger.ts';
import { silentProgress, type ProgressReporter } from '../log/progress.ts';
import { ageOn, dayOf, isoOf, termsEndingBy } from './calendar.ts';
import { CORRUPTIONS } from './corruptions.ts';
import { EventMaker, type LifeEvent } from './events.ts';
import { PROFILES, dateCell, personCells, systemIdentity, type PersonSource, type SystemIdentity } from './noise.ts';
import { members, PopulationMaker, type Household, type Person } from './people.ts';
import { ordinaryRecords, ordinarySignal } from './population.ts';
import { Rng } from './random.ts';
import { buildAttachedFamily, buildEligibleUnattached, familyTruth, PROBLEMS, scenarioFor, SCENARIOS, type AttachedFamily } from './scenarios.ts';
import { csvLine, ExtractWriter, OFFENDING_EXPORT, TextFile } from './writer.ts';

/**
 * `tfclaims synth`: a whole synthetic council (every resident, most of whom the programme never
 * meets) written as the six extracts, with a `truth/` folder that says who is behind every
 * record, who is in every attached family, and which families are claimable as of the
 * reference date and by which route, known by construction (scenarios.ts). Generation streams
 * household by household, so memory stays flat at any scale, and is byte-identical for a seed.
 */

export interface SynthOptions {
  outDir: string;
  /** Attached families (the programme register). */
  families: number;
  seed: number;
  /** Residents in all (default 200 per attached family: 5,000 families is a council of about a million). */
  population?: number;
  /** Reference date the extracts are taken on, `YYYY-MM-DD` (default 2026-10-31). */
  asOf?: string;
  /** Write this source in a vendor's layout with a column mapping beside it. */
  exportedSource?: 'offending';
  /** Share of ordinary residents' rows made invalid on purpose (default 0.003). */
  invalidRate?: number;
  logger?: Logger;
  progress?: ProgressReporter;
}

export interface SynthSummary {
  outDir: string;
  seed: number;
  asOf: string;
  residents: number;
  households: number;
  attachedFamilies: number;
  claimableFamilies: number;
  eligibleUnattachedFamilies: number;
  rows: Record<string, number>;
  expectedRejects: number;
  scenarios: Record<string, number>;
}

export const GENERATOR_VERSION = 1;

const EXTRACT_PREFIX = { attendance: 'ATT', offending: 'OCC', employment: 'DWP', social_care: 'SCE', attachments: 'EHM', evidence: 'EVD' } as const;

type ExtractName = keyof typeof EXTRACT_PREFIX;

/** Generate the council. */
export async function runSynth(opts: SynthOptions): Promise<SynthSummary> {
  const logger = opts.logger ?? silentLogger();
  const progress = opts.progress ?? silentProgress;
  const asOfIso = opts.asOf ?? '2026-10-31';
  const asOf = dayOf(asOfIso);
  const families = opts.families;
  const population = opts.population ?? families * 200;
  const invalidRate = opts.invalidRate ?? 0.003;
  const rng = new Rng(opts.seed);
  const terms = termsEndingBy(asOf);
  const pop = new PopulationMaker(rng, asOf, population);
  const maker = new EventMaker(rng, asOf, terms, population);

  const outDir = opts.outDir;
  const truthDir = path.join(outDir, 'truth');
  try {
    await mkdir(truthDir, { recursive: true });
  } catch (error) {
    throw new UsageError(`cannot write the synthetic council to ${outDir}: ${(error as NodeJS.ErrnoException).code ?? 'not writable'}`, {
      cause: error,
      hint: 'give --out a folder you can write to (it is created if missing)',
    });
  }

  const truthFile = (name: string, header: string[]) => {
    const f = new TextFile(path.join(truthDir, name), 0o600);
    void f.write(csvLine(header));
    return f;
  };
  const records = truthFile('records.csv', ['source', 'record_id', 'person_id']);
  const rejects = truthFile('rejects.csv', ['source', 'record_id', 'line', 'column', 'kind']);
  const people = truthFile('people.csv', ['person_id', 'household_id', 'forename', 'middle_names', 'surname', 'dob', 'sex']);
  const familiesFile = truthFile('families.csv', ['case_ref', 'person_id', 'role']);
  const claimable = truthFile('claimable.csv', [
    'case_ref', 'household_id', 'attached_on', 'as_of', 'scenario', 'problems_at_entry', 'problem_results', 'eligible', 'ssp_met', 'ce_met',
    'claimable', 'route',
  ]);
  const unattached = truthFile('eligible_unattached.csv', ['household_id', 'person_id', 'problems']);

  const writers = {} as Record<ExtractName, ExtractWriter>;
  for (const source of Object.keys(EXTRACT_PREFIX) as ExtractName[]) {
    const exported = source === 'offending' && opts.exportedSource === 'offending';
    writers[source] = new ExtractWriter({
      path: path.join(outDir, `${source}.csv`),
      source,
      canonicalHeader: columnNames(source),
      idPrefix: EXTRACT_PREFIX[source],
      corruptions: source in CORRUPTIONS ? CORRUPTIONS[source as keyof typeof CORRUPTIONS] : [],
      corruptRate: invalidRate,
      records,
      rejects,
      ...(exported ? { layout: OFFENDING_EXPORT.layout } : {}),
    });
    await writers[source].open();
  }
  if (opts.exportedSource === 'offending') await writeFile(path.join(outDir, 'offending.mapping.yaml'), OFFENDING_EXPORT.mapping);

  const task = progress.start('synth', { total: population, unit: 'residents' });
  const eligibleTarget = Math.max(families > 0 ? 1 : 0, Math.round(families * 0.4));
  let attachedDone = 0;
  let eligibleDone = 0;
  let households = 0;
  let claimableCount = 0;
  const scenarioCounts: Record<string, number> = Object.fromEntries(SCENARIOS.map((s) => [s.name, 0]));

  /** How each system holds each person of the household being written (decided once per household). */
  let identities = new Map<Person, Partial<Record<PersonSource, SystemIdentity>>>();
  const identity = (person: Person, source: PersonSource): SystemIdentity => {
    let bySource = identities.get(person);
    if (!bySource) identities.set(person, (bySource = {}));
    return (bySource[source] ??= systemIdentity(person, source, rng));
  };

  const emit = (household: Household, events: LifeEvent[], corruptible: boolean) => {
    for (const ev of events) {
      const person = ev.person;
      switch (ev.kind) {
        case 'attendance': {
          const cells = personCells(identity(person, 'attendance'), household, 'attendance', ev.term.start, rng, 'iso');
          cells.push(
            isoOf(ev.term.start),
            isoOf(ev.term.end),
            ev.schoolUrn,
            String(ev.possible),
            String(ev.authorised),
            String(ev.unauthorised),
            ev.fixedExclusions === 0 && rng.chance(0.6) ? '' : String(ev.fixedExclusions),
            ev.permanentExclusion ? 'Y' : rng.chance(0.5) ? 'N' : '',
            ev.alternativeProvision ? 'Y' : rng.chance(0.3) ? 'N' : '',
          );
          writers.attendance.add({ cells, personId: person.id, corruptible });
          break;
        }
        case 'offending': {
          const cells = personCells(identity(person, 'offending'), household, 'offending', ev.day, rng, 'iso');
          cells.push(isoOf(ev.day), ev.type, ev.role, ev.detail);
          writers.offending.add({ cells, personId: person.id, corruptible });
          break;
        }
        case 'employment': {
          // DWP's extract merges feeds: a few rows carry UK-order dates.
          const style = rng.chance(0.03) ? 'uk' : 'iso';
          const cells = personCells(identity(person, 'employment'), household, 'employment', ev.end ?? asOf, rng, style);
          cells.push(ev.spellType, ev.benefitType, ev.ucConditionality, dateCell(ev.start, style), ev.end === null ? '' : dateCell(ev.end, style));
          writers.employment.add({ cells, personId: person.id, corruptible });
          break;
        }
        case 'social_care': {
          const cells = personCells(identity(person, 'social_care'), household, 'social_care', ev.start, rng, 'uk');
          cells.push(ev.type, dateCell(ev.start, 'uk'), ev.end === null ? '' : dateCell(ev.end, 'uk'), ev.caseRef, ev.role);
          writers.social_care.add({ cells, personId: person.id, corruptible });
          break;
        }
      }
    }
  };

  const writePeople = async (household: Household) => {
    for (const p of members(household)) {
      await people.write(csvLine([p.id, household.id, p.forename, p.middleNames, p.surname, isoOf(p.dob), p.sex]));
    }
  };

  const writeAttached = async (f: AttachedFamily) => {
    const hh = f.household;
    for (const p of members(hh)) {
      const role = ageOn(p.dob, f.attachedOn) < 18 ? 'child' : 'adult';
      const cells = personCells(identity(p, 'attachments'), hh, 'attachments', f.attachedOn, rng, 'iso');
      cells.push(f.caseRef, isoOf(f.attachedOn), rng.chance(0.3) ? '' : role, f.keyworkerProblems.join(';'), f.leadProfessional);
      writers.attachments.add({ cells, personId: p.id, corruptible: false });
      await familiesFile.write(csvLine([f.caseRef, p.id, role]));
    }
    for (const e of f.evidence) {
      writers.evidence.add({ cells: ['', f.caseRef, e.problem, e.outcome, isoOf(e.day), e.attestedBy, e.note], personId: '', corruptible: false });
    }
    const truth = familyTruth(f, asOf);
    if (truth.claimable) claimableCount++;
    const order = (a: string, b: string) => PROBLEMS.indexOf(a as never) - PROBLEMS.indexOf(b as never);
    const problemsAtEntry = [...f.problems.keys()].sort(order);
    await claimable.write(
      csvLine([
        f.caseRef,
        hh.id,
        isoOf(f.attachedOn),
        asOfIso,
        f.scenario,
        problemsAtEntry.join(';'),
        problemsAtEntry.map((p) => `${p}:${f.problems.get(p)}`).join(';'),
        String(truth.eligible),
        String(truth.sspMet),
        String(truth.ceMet),
        String(truth.claimable),
        truth.route,
      ]),
    );
  };

  const flushAll = async () => {
    for (const w of Object.values(writers)) await w.flush(rng);
    identities = new Map();
  };

  let residents = 0;
  while (residents < population || attachedDone < families || eligibleDone < eligibleTarget) {
    const specialsLeft = families - attachedDone + (eligibleTarget - eligibleDone);
    const householdsLeft = Math.max(1, (population - residents) / 2.5);
    const special = specialsLeft > 0 && (residents >= population || rng.chance(specialsLeft / householdsLeft));
    let household: Household;
    if (special && rng.chance((families - attachedDone) / specialsLeft)) {
      const spec = scenarioFor(attachedDone, rng);
      const f = buildAttachedFamily(pop, maker, spec, attachedDone + 1);
      household = f.household;
      attachedDone++;
      scenarioCounts[spec.name] = (scenarioCounts[spec.name] ?? 0) + 1;
      emit(household, f.events, false);
      await writeAttached(f);
    } else if (special) {
      const e = buildEligibleUnattached(pop, maker);
      household = e.household;
      eligibleDone++;
      emit(household, [...e.events, ...ordinaryRecords(maker, household, null, true)], false);
      for (const p of members(household)) await unattached.write(csvLine([household.id, p.id, e.problems.join(';')]));
    } else {
      household = pop.household();
      emit(household, ordinaryRecords(maker, household, ordinarySignal(maker, household)), true);
    }
    await writePeople(household);
    households++;
    const size = household.adults.length + household.children.length;
    residents += size;
    task.tick(size);
    if (households % 2000 === 0) await flushAll();
  }
  await flushAll();
  task.done();

  for (const w of Object.values(writers)) await w.close();
  for (const f of [records, rejects, people, familiesFile, claimable, unattached]) await f.close();

  const rows = Object.fromEntries(Object.entries(writers).map(([s, w]) => [s, w.rows]));
  const expectedRejects = Object.values(writers).reduce((n, w) => n + w.rejects, 0);
  const summary: SynthSummary = {
    outDir,
    seed: opts.seed,
    asOf: asOfIso,
    residents,
    households,
    attachedFamilies: attachedDone,
    claimableFamilies: claimableCount,
    eligibleUnattachedFamilies: eligibleDone,
    rows,
    expectedRejects,
    scenarios: scenarioCounts,
  };
  await writeFile(
    path.join(truthDir, 'truth.json'),
    `${JSON.stringify(
      {
        generator: 'tfclaims synth',
        generatorVersion: GENERATOR_VERSION,
        ...summary,
        outDir: undefined,
        plan: 'phase2-london-core (default plan; equivalent_progress off for every problem)',
        terms: terms.map((t) => ({ id: t.id, start: isoOf(t.start), end: isoOf(t.end), sessionsPossible: t.sessionsPossible })),
        invalidRate,
        exportedSource: opts.exportedSource ?? null,
        noise: PROFILES,
      },
      null,
      2,
    )}\n`,
    { mode: 0o600 },
  );
  logger.info({ residents: summary.residents, households, attachedFamilies: attachedDone, rows, expectedRejects }, 'synthetic council written');
  return summary;
}
