/** The families stage: people grouped into families with stable ids and membership history. */
export { buildFamilies, assignFamilyIds, type FamiliesSummary, type FamilyChange } from './stage.ts';
export { groupHouseholds, DwellingResolver, type Household, type FamilyMember, type Grouping } from './households.ts';
export { parseDwelling, dwellingKey, normalisePostcode, type Dwelling } from './dwelling.ts';
export { writeFamiliesCsv, FAMILIES_CSV_COLUMNS } from './families-csv.ts';
export { evaluateFamilies, type FamilyEvaluation } from './evaluate.ts';
