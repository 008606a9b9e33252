/**
 * `node bench/score-truth.ts DB_URL SYNTH_DIR CLAIM_CSV`: a bench run scored against the synthetic
 * council's truth, printed as JSON. Families: how many attached families hold exactly their truth
 * members' records (the 99% floor of issue 3, see evaluateFamilies). Claims: the families in the
 * claim draft against the truth's claimable families (right, wrongly claimed, missed). Run as its
 * own process by bench/run.ts so its memory (every record of the council) is not the bench's.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { openPostgres } from '../src/db/index.ts';
import { evaluateFamilies } from '../src/families/index.ts';

const [url, synthDir, claimCsv] = process.argv.slice(2);
if (!url || !synthDir || !claimCsv) {
  process.stderr.write('usage: node bench/score-truth.ts DB_URL SYNTH_DIR CLAIM_CSV\n');
  process.exit(2);
}
const db = openPostgres(url);
try {
  const families = await evaluateFamilies(db, synthDir);
  const truth = parse(await readFile(path.join(synthDir, 'truth', 'claimable.csv')), { columns: true }) as { case_ref: string; claimable: string }[];
  const claimable = new Set(truth.filter((t) => t.claimable === 'true').map((t) => t.case_ref));
  const claimed = new Set((parse(await readFile(claimCsv), { columns: true }) as { case_ref: string }[]).map((c) => c.case_ref));
  const right = [...claimed].filter((c) => claimable.has(c)).length;
  console.log(
    JSON.stringify({
      families: { attached: families.attachedFamilies, exactlyRight: families.exactlyRight, exactFraction: families.exactFraction },
      claims: { truthClaimable: claimable.size, claimed: claimed.size, right, wronglyClaimed: claimed.size - right, missed: claimable.size - right },
    }),
  );
} finally {
  await db.close();
}
