-- Claims views for auditors and finance (issue 5). Documented in docs/claims.md.
--
-- Applied by migration 0007_claims.sql, which holds this text verbatim (test/claims/views.test.ts
-- checks it). To change a view: edit it here AND add a new numbered migration with the new
-- CREATE OR REPLACE VIEW (a released migration is never edited).
--
-- No names, dates of birth, addresses or free text (verification notes, withdrawal reasons,
-- attesting keyworkers' names): ids, dates, codes, amounts, measured values and hashes.

-- The ledger: every family in a submitted claim (at most once, ever), and whether it was withdrawn.
CREATE OR REPLACE VIEW audit.claim_ledger AS
SELECT c.window_id, c.claim_id, l.line_no, l.family_id, l.case_ref, l.route, l.attached_on, l.outcome_date,
       l.problems_at_entry, l.amount_gbp, c.as_of, c.plan_id, c.plan_sha256, c.evaluation_id, c.run_id,
       c.created_at AS submitted_at, c.draft_id, c.sample_id,
       (w.withdrawal_id IS NOT NULL) AS withdrawn, w.withdrawn_at, w.run_id AS withdrawal_run_id
FROM core.claim c
JOIN core.claim_line l ON l.claim_id = c.claim_id
LEFT JOIN core.claim_withdrawal w ON w.claim_id = l.claim_id AND w.family_id = l.family_id
WHERE c.status = 'submitted';
COMMENT ON VIEW audit.claim_ledger IS 'Every submitted claim line (each family at most once, ever), with withdrawal if any.';

-- Every claim (drafts and submissions) with its counts and hashes.
CREATE OR REPLACE VIEW audit.claims AS
SELECT c.claim_id, c.window_id, c.status, c.as_of, c.financial_year, c.plan_id, c.plan_version, c.plan_sha256,
       c.evaluation_id, c.draft_id, c.sample_id, c.lines, c.total_gbp, c.lines_sha256, c.run_id, c.created_at,
       (c.status = 'draft' AND c.claim_id = (SELECT max(d.claim_id) FROM core.claim d WHERE d.window_id = c.window_id AND d.status = 'draft')) AS latest_draft
FROM core.claim c;
COMMENT ON VIEW audit.claims IS 'Claims: every draft and submission with counts, totals and hashes; latest_draft marks the draft in force.';

-- Claim line -> family -> problems at entry -> each rule's evidence -> the source records behind it.
-- One row per (line, rule, source record); a rule with no records gives one row with NULL source.
-- The source record is shown in every file version holding it (file_current says which is in force).
CREATE OR REPLACE VIEW audit.claim_line_trace AS
SELECT c.window_id, c.claim_id, c.status, l.line_no, l.family_id, l.case_ref, l.route, l.amount_gbp,
       c.evaluation_id, e.phase, e.problem, pe.identified_on, pe.from_data, pe.from_keyworker,
       e.rule_index, e.rule, e.measured, e.threshold, e.result, e.tested_on,
       ref.ref AS source_ref, sr.source, sr.record_id, sr.file_id, sr.line, sr.kind, sr.from_date, sr.to_date, sr.detail,
       (sr.file_id IN (SELECT cf.file_id FROM audit.current_file cf)) AS file_current
FROM core.claim c
JOIN core.claim_line l ON l.claim_id = c.claim_id
JOIN core.rule_evidence e ON e.evaluation_id = c.evaluation_id AND e.family_id = l.family_id
LEFT JOIN core.problem_at_entry pe ON pe.evaluation_id = e.evaluation_id AND pe.family_id = e.family_id AND pe.problem = e.problem
LEFT JOIN LATERAL unnest(CASE WHEN cardinality(e.source_records) = 0 THEN ARRAY[NULL::text] ELSE e.source_records END) AS ref(ref) ON true
LEFT JOIN audit.source_record sr
  ON sr.source = split_part(ref.ref, ':', 1) AND sr.record_id = substr(ref.ref, strpos(ref.ref, ':') + 1);
COMMENT ON VIEW audit.claim_line_trace IS 'Claim line -> family -> problems at entry -> rule evidence (measured vs threshold) -> source records (file, line).';

-- The audit sample of each draft: every sampled line with its latest check (no notes).
CREATE OR REPLACE VIEW audit.claim_audit_status AS
SELECT s.sample_id, s.window_id, s.claim_id AS draft_claim_id, s.seed, s.fraction, s.method, s.draft_lines, s.sample_size,
       sl.rank, sl.family_id, sl.case_ref, sl.sort_key, v.result, v.verified_by, v.verified_at,
       (SELECT count(*) FROM core.audit_verification x WHERE x.sample_id = sl.sample_id AND x.case_ref = sl.case_ref) AS checks
FROM core.audit_sample s
JOIN core.audit_sample_line sl ON sl.sample_id = s.sample_id
LEFT JOIN LATERAL (
  SELECT x.result, x.verified_by, x.verified_at FROM core.audit_verification x
  WHERE x.sample_id = sl.sample_id AND x.case_ref = sl.case_ref ORDER BY x.verification_id DESC LIMIT 1
) v ON true;
COMMENT ON VIEW audit.claim_audit_status IS 'Audit samples: each sampled line with its latest verification (result, who, when); no notes.';
