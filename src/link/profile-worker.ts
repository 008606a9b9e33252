/**
 * Worker thread of {@link loadProfiles} (profiles.ts): reads the records of part 1 (birth dates
 * on an odd day count) on a connection of its own, in the match transaction's snapshot, groups
 * them into profiles, and posts the builder's state back (typed arrays transferred, not copied).
 * It writes nothing, and its connection's transaction only reads.
 */
import { parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';
import { to as copyToStream } from 'pg-copy-streams';
import { pgConnectionConfig } from '../db/pg.ts';
import { addProfileRows, ProfileBuilder, profileRowsSql, type ProfileWorkerInput } from './profiles.ts';

const input = workerData as ProfileWorkerInput;
const client = new pg.Client({ ...pgConnectionConfig(input.connection), application_name: 'tfclaims profiles' });
await client.connect();
try {
  // A snapshot can only be taken on by a REPEATABLE READ transaction.
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  await client.query(`SET TRANSACTION SNAPSHOT '${input.snapshot.replace(/'/g, "''")}'`);
  const builder = new ProfileBuilder(new Map(input.records.map((key) => [key, -1])));
  await addProfileRows(builder, client.query(copyToStream(`COPY (${profileRowsSql(1)}) TO STDOUT`)));
  await client.query('COMMIT');
  const state = builder.state();
  const buffers = [state.recordsIn, state.linkageKeys, state.fresh, state.heldId, state.heldRecords, ...state.files.flatMap((f) => [f.profiles, f.idStart, f.idLength, f.ids])].map((a) => a.buffer as ArrayBuffer);
  parentPort!.postMessage(state, buffers);
} finally {
  await client.end();
}
