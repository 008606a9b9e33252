/**
 * The claims stage (issue 5, items 1-3): claim drafts, the ledger (a family claimed at most once,
 * enforced by the database), the internal audit sample and verification, finalising and
 * withdrawals. See docs/claims.md and migrations/0007_claims.sql.
 */
export { draftClaim, draftClaimInTransaction, describeClaim, summaryJson, tally, ROUTES, type ClaimSummary, type DraftClaimOptions } from './draft.ts';
export { auditSample, describeSample, drawSampleOf, sampleKey, sampleSize, SAMPLE_METHOD, DEFAULT_FRACTION, type AuditSampleSummary, type AuditSampleOptions } from './sample.ts';
export { auditVerify, claimFinalise, claimWithdraw, describeVerify, MAX_FAILED_SHARE, type VerifySummary, type WithdrawSummary } from './finalise.ts';
export { CLAIM_CSV_COLUMNS, claimCsv, claimCsvName, claimSummaryName, evidencePackDirName, checkWindow } from './files.ts';
export { publish, discard } from './files.ts';
