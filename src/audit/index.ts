/**
 * Tamper evidence and auditors' access (issue 5): the run chain (every run sealed when it starts
 * and when it ends, each seal hashed onto the one before), output files registered with their
 * hashes, `tfclaims audit check-chain`, and the roles of `tfclaims db roles`. See docs/auditors.md.
 */
export { canonicalJson, sealHash, sha256Hex, GENESIS_HASH, type Json } from './canonical.ts';
export { verifyChain, jsonDifferences, describeProblem, type ChainProblem, type ChainReport, type SealToCheck, type StoredSeal, type UnsealedRun, type Difference } from './chain.ts';
export { appendSeal, recordRunStart, recordRunEnd, CHAIN_LOCK_KEY, SEAL_VERSION, type Seal, type RunStart, type RunEnd } from './seal.ts';
export { recordOutput, hashFile, type OutputRecord } from './outputs.ts';
export { checkChain, readChain, readChainIn, requireChainSchema, runCheckChain, CHAIN_MIGRATION, type CheckChainOptions } from './check.ts';
export { ROLES, AUDITOR_RELATIONS, AUDITOR_COLUMNS, FINANCE_RELATIONS, grantStatements, rolesGuide, runDbRoles, type RoleKey } from './roles.ts';
