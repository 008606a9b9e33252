-- Auditors' views (issue 5). Documented in docs/auditors.md, with worked queries.
--
-- Applied by migration 0006_audit_chain.sql, which holds this text verbatim (a test checks it),
-- so the views exist on every database tfclaims opens, a server or the embedded one. To change a
-- view: edit it here AND add a new numbered migration with the new CREATE OR REPLACE VIEW (a
-- released migration is never edited).
--
-- The views never show names, dates of birth, addresses, postcodes, free-text notes or the values
-- of rejected cells: an auditor traces ids, dates, codes, counts and hashes. They are owned by the
-- database owner and read with the owner's rights, so `tfclaims_auditor` needs only SELECT on
-- them (tfclaims db roles), never on raw.* or core.*.
--
-- The claim-line views (claim line -> family -> problems at entry -> evidence -> source records)
-- arrive with the claims tables.

-- The hash chain, one row per seal in chain order, with the run it seals and how the run ended.
CREATE OR REPLACE VIEW audit.run_chain AS
SELECT s.seq, s.run_id, s.kind, r.command, r.operator, r.code_version, r.started_at, e.finished_at,
       COALESCE(e.status, 'running or interrupted') AS status, e.exit_code, s.prev_hash, s.hash
FROM audit.run_seal s
JOIN audit.run r USING (run_id)
LEFT JOIN audit.run_end e USING (run_id);
COMMENT ON VIEW audit.run_chain IS 'The tamper-evident run chain: one row per seal (start and end of every run), in chain order.';

-- Every seal checked in SQL alone: its hash recomputed from the stored text, its link to the seal
-- before it, and its sealed content compared with what the records say now (jsonb equality).
-- All three are true for an intact chain; `tfclaims audit check-chain` does the same and names what differs.
CREATE OR REPLACE VIEW audit.run_chain_check AS
SELECT s.seq, s.run_id, s.kind,
       s.hash = encode(sha256(convert_to(s.prev_hash || s.content, 'UTF8')), 'hex') AS hash_ok,
       s.prev_hash = COALESCE(lag(s.hash) OVER w, repeat('0', 64))
         AND s.seq = COALESCE(lag(s.seq) OVER w, 0) + 1 AS linked,
       COALESCE(s.content::jsonb = audit.seal_content(s.run_id, s.kind, s.seq, (s.content::jsonb ->> 'v')::integer), false) AS matches_records
FROM audit.run_seal s
WINDOW w AS (ORDER BY s.seq);
COMMENT ON VIEW audit.run_chain_check IS 'Each seal recomputed in SQL: hash_ok, linked and matches_records are all true when the chain is intact.';

-- Runs the chain does not cover although it should: started after the first sealed run with no
-- start seal, or ended with no end seal (written outside tfclaims).
CREATE OR REPLACE VIEW audit.run_unsealed AS
SELECT r.run_id, r.command, r.started_at,
       CASE WHEN NOT EXISTS (SELECT 1 FROM audit.run_seal s WHERE s.run_id = r.run_id AND s.kind = 'start')
            THEN 'no start seal' ELSE 'ended with no end seal' END AS problem
FROM audit.run r
WHERE r.run_id >= (SELECT min(run_id) FROM audit.run_seal)
  AND (NOT EXISTS (SELECT 1 FROM audit.run_seal s WHERE s.run_id = r.run_id AND s.kind = 'start')
       OR (EXISTS (SELECT 1 FROM audit.run_end e WHERE e.run_id = r.run_id)
           AND NOT EXISTS (SELECT 1 FROM audit.run_seal s WHERE s.run_id = r.run_id AND s.kind = 'end')));
COMMENT ON VIEW audit.run_unsealed IS 'Runs missing from the chain: empty for an intact chain.';

-- Run -> the files it loaded (hash, size, counts, and what later replaced them) and the files it wrote.
-- A run that met a file already loaded loads nothing again: the file stays with the run that loaded it.
CREATE OR REPLACE VIEW audit.run_io AS
SELECT r.run_id, r.command, COALESCE(e.status, 'running or interrupted') AS status,
       io.direction, io.kind, io.file_id, io.output_id, io.file, io.sha256, io.size_bytes,
       io.rows_read, io.rows_loaded, io.rows_rejected, io.mapping_sha256, io.superseded_by, io.recorded_at
FROM audit.run r
LEFT JOIN audit.run_end e USING (run_id)
JOIN (
  SELECT f.run_id, 'input'::text AS direction, f.source AS kind, f.file_id, NULL::bigint AS output_id,
         f.file_name AS file, f.sha256, f.size_bytes, f.rows_read, f.rows_loaded, f.rows_rejected,
         f.mapping_sha256, s.superseded_by, f.loaded_at AS recorded_at
  FROM audit.input_file f
  LEFT JOIN audit.file_supersession s USING (file_id)
  UNION ALL
  SELECT o.run_id, 'output', o.kind, NULL, o.output_id, o.path, o.sha256, o.size_bytes,
         NULL, NULL, NULL, NULL, NULL, o.recorded_at
  FROM audit.output_file o
) io USING (run_id);
COMMENT ON VIEW audit.run_io IS 'Run -> input files loaded (hash, size, counts, superseded_by) and output files written (hash, size).';

-- Rejected rows without their values or reasons (both may quote personal data).
CREATE OR REPLACE VIEW audit.reject_line AS
SELECT reject_id, run_id, file_id, source, line, column_name
FROM audit.reject;
COMMENT ON VIEW audit.reject_line IS 'Rejected rows: file, line and column, never the value or the reason text.';

-- Rejects counted by source, run, file and column (NULL column: the whole row, e.g. wrong field count or duplicate id).
CREATE OR REPLACE VIEW audit.rejects_by_source_run AS
SELECT j.source, j.run_id, j.file_id, f.file_name, f.sha256 AS file_sha256, j.column_name,
       count(*)::bigint AS rejects, min(j.line) AS first_line, max(j.line) AS last_line
FROM audit.reject j
JOIN audit.input_file f USING (file_id)
GROUP BY j.source, j.run_id, j.file_id, f.file_name, f.sha256, j.column_name;
COMMENT ON VIEW audit.rejects_by_source_run IS 'Rejected rows counted by source, run, file and column.';

-- Every source record with what an auditor traces it by (ids, dates, codes, measures), without
-- names, dates of birth, addresses or free text. `current` = its file is in force.
-- `detail` holds the source's own measures (sessions, roles, benefit types, problems...).
CREATE OR REPLACE VIEW audit.source_record AS
SELECT 'attendance'::text AS source, a.record_id, a.file_id, a.line, NULL::text AS case_ref,
       'attendance_term'::text AS kind, a.term_start AS from_date, a.term_end AS to_date,
       jsonb_build_object('school_urn', a.school_urn, 'sessions_possible', a.sessions_possible,
                          'sessions_authorised', a.sessions_authorised, 'sessions_unauthorised', a.sessions_unauthorised,
                          'fixed_exclusions', a.fixed_exclusions, 'permanent_exclusion', a.permanent_exclusion,
                          'alternative_provision', a.alternative_provision) AS detail
FROM raw.attendance a
UNION ALL
SELECT 'offending', o.record_id, o.file_id, o.line, NULL, o.event_type, o.event_date, o.event_date,
       jsonb_build_object('role', o.role)
FROM raw.offending o
UNION ALL
SELECT 'employment', m.record_id, m.file_id, m.line, NULL, m.spell_type, m.start_date, m.end_date,
       jsonb_build_object('benefit_type', m.benefit_type, 'uc_conditionality', m.uc_conditionality)
FROM raw.employment m
UNION ALL
SELECT 'social_care', c.record_id, c.file_id, c.line, c.case_ref, c.episode_type, c.start_date, c.end_date,
       jsonb_build_object('role', c.role)
FROM raw.social_care c
UNION ALL
SELECT 'attachments', t.record_id, t.file_id, t.line, t.case_ref, 'attachment', t.attached_on, NULL,
       jsonb_build_object('member_role', t.member_role, 'problems', to_jsonb(t.problems))
FROM raw.attachments t
UNION ALL
SELECT 'evidence', v.record_id, v.file_id, v.line, v.case_ref, v.outcome, v.evidence_date, v.evidence_date,
       jsonb_build_object('problem', v.problem, 'attested_by', v.attested_by)
FROM raw.evidence v;
COMMENT ON VIEW audit.source_record IS 'Source records by source, id, file and line with their dates and codes; no names, dates of birth, addresses or notes.';

-- Family -> members over time: how each person came to be in the family (basis), from and to
-- when, and the runs that found them joining and leaving.
CREATE OR REPLACE VIEW audit.family_membership AS
SELECT f.family_id, f.case_ref, f.created_run, m.person_id, m.basis, m.joined_on, m.left_on,
       m.joined_run, m.left_run, (m.left_run IS NULL) AS current
FROM core.family f
JOIN core.family_member m USING (family_id);
COMMENT ON VIEW audit.family_membership IS 'Family membership history: member, basis, joined/left dates and runs.';

-- Family timeline: each membership with the source records of that person in the files in force
-- (by source and date), plus the family's evidence rows (by case_ref, no person).
CREATE OR REPLACE VIEW audit.family_timeline AS
SELECT m.family_id, m.case_ref, m.person_id, m.basis, m.joined_on, m.left_on, m.current AS current_member,
       r.source, r.record_id, r.kind, r.from_date, r.to_date, r.file_id, r.line, r.detail
FROM audit.family_membership m
LEFT JOIN core.person_record pr ON pr.person_id = m.person_id
LEFT JOIN audit.source_record r
  ON r.source = pr.source AND r.record_id = pr.record_id
 AND r.file_id IN (SELECT c.file_id FROM audit.current_file c WHERE c.source = pr.source)
UNION ALL
SELECT f.family_id, f.case_ref, NULL, NULL, NULL, NULL, NULL,
       r.source, r.record_id, r.kind, r.from_date, r.to_date, r.file_id, r.line, r.detail
FROM core.family f
JOIN audit.source_record r ON r.source = 'evidence' AND r.case_ref = f.case_ref
 AND r.file_id IN (SELECT c.file_id FROM audit.current_file c WHERE c.source = 'evidence');
COMMENT ON VIEW audit.family_timeline IS 'Family -> members (basis, joined/left) -> their records in the files in force, by source and date; plus the family''s evidence rows.';
