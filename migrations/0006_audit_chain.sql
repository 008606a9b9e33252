-- Tamper evidence and auditors' access (issue 5). See docs/auditors.md.
--
-- 1. Append-only: audit.forbid_change() refuses UPDATE, DELETE and TRUNCATE on a table it guards;
--    audit.forbid_change_after_run() lets a run replace its own rows until the run has ended (the
--    rules stage re-evaluates within a run) and refuses any change once it has. Attach them with
--    audit.make_append_only('schema.table') / audit.make_append_only_after_run('schema.table').
-- 2. The run chain: audit.run_seal holds one seal when a run starts and one when it ends, each
--    hash = sha256(previous seal's hash || canonical JSON of the sealed content), written by
--    src/audit/seal.ts under an advisory lock. audit.seal_content() says what is sealed: the
--    same function serves sealing, `tfclaims audit check-chain` and auditors' SQL.
-- 3. audit.output_file: files a run wrote, with their hashes (sealed with the run).
-- 4. The auditors' views: sql/auditor_views.sql, included verbatim at the end.
-- Roles and grants are not here (roles belong to the server, not the database): tfclaims db roles.

-- ---- 1. append-only guards --------------------------------------------------------------------

CREATE FUNCTION audit.forbid_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '%.% is append-only: % refused', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'TF001',
          HINT = 'records are never changed or removed: record a new row (a correction or withdrawal) instead';
END
$$;
COMMENT ON FUNCTION audit.forbid_change() IS 'Trigger: refuses UPDATE, DELETE and TRUNCATE (SQLSTATE TF001). Attach with audit.make_append_only(table).';

-- For tables whose rows carry run_id and which a run may legitimately rewrite while it is still
-- running (the rules stage replaces its own evaluation when asked to evaluate again): allowed
-- while the row's run has no audit.run_end, refused from the moment it has.
CREATE FUNCTION audit.forbid_change_after_run() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    RAISE EXCEPTION '%.% is append-only: TRUNCATE refused', TG_TABLE_SCHEMA, TG_TABLE_NAME
      USING ERRCODE = 'TF001';
  END IF;
  IF EXISTS (SELECT 1 FROM audit.run_end e WHERE e.run_id = OLD.run_id) THEN
    RAISE EXCEPTION '%.% rows of run % are final (the run has ended): % refused', TG_TABLE_SCHEMA, TG_TABLE_NAME, OLD.run_id, TG_OP
      USING ERRCODE = 'TF001',
            HINT = 'a later run records new rows instead of changing these';
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.run_id IS DISTINCT FROM OLD.run_id THEN
    RAISE EXCEPTION '%.%: a row cannot move to another run', TG_TABLE_SCHEMA, TG_TABLE_NAME
      USING ERRCODE = 'TF001';
  END IF;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION audit.forbid_change_after_run() IS 'Trigger: rows may change only while their run_id has no audit.run_end; TRUNCATE always refused (SQLSTATE TF001).';

-- Row triggers for UPDATE and DELETE (so INSERT ... ON CONFLICT DO NOTHING and statements that
-- touch no row still work), a statement trigger for TRUNCATE (which has no rows).
CREATE FUNCTION audit.make_append_only(target regclass) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION audit.forbid_change()', target);
  EXECUTE format('CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION audit.forbid_change()', target);
END
$$;

CREATE FUNCTION audit.make_append_only_after_run(target regclass) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION audit.forbid_change_after_run()', target);
  EXECUTE format('CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION audit.forbid_change_after_run()', target);
END
$$;
-- Attaching guards is for migrations (run by the owner), not for the roles that use the data.
REVOKE EXECUTE ON FUNCTION audit.make_append_only(regclass), audit.make_append_only_after_run(regclass) FROM PUBLIC;

-- ---- 2. the run chain -------------------------------------------------------------------------

-- Files a run wrote (claim files, reports), hashed when the command registered them.
CREATE TABLE audit.output_file (
  output_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id      bigint      NOT NULL REFERENCES audit.run (run_id),
  -- What the file is, e.g. claim, claim_summary, families, rejects, evidence_pack.
  kind        text        NOT NULL,
  path        text        NOT NULL,
  sha256      text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  size_bytes  bigint      NOT NULL CHECK (size_bytes >= 0),
  recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX output_file_run_idx ON audit.output_file (run_id);
COMMENT ON TABLE audit.output_file IS 'Every file a run wrote and registered: kind, path, SHA-256, size. Sealed with the run.';

-- One seal when a run starts and one when it ends. seq is the position in the chain (1, 2, 3...
-- with no gaps); prev_hash is the hash of seal seq-1 (64 zeros for seal 1); content is the
-- canonical JSON (keys sorted, no spaces) of audit.seal_content(run_id, kind, seq, v); and
-- hash = lower-hex sha256 of the UTF-8 text prev_hash || content.
CREATE TABLE audit.run_seal (
  seq        bigint PRIMARY KEY CHECK (seq >= 1),
  run_id     bigint NOT NULL REFERENCES audit.run (run_id),
  kind       text   NOT NULL CHECK (kind IN ('start', 'end')),
  content    text   NOT NULL,
  prev_hash  text   NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
  hash       text   NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
  CONSTRAINT run_seal_once UNIQUE (run_id, kind),
  -- Two seals can never follow one predecessor: the chain cannot fork.
  CONSTRAINT run_seal_no_fork UNIQUE (prev_hash),
  CONSTRAINT run_seal_hash_once UNIQUE (hash)
);
COMMENT ON TABLE audit.run_seal IS 'Hash chain over runs: hash = sha256(prev_hash || content); content = canonical JSON of audit.seal_content(run_id, kind, seq, v).';

-- Timestamps as text in UTC with microseconds, so the sealed text does not depend on the
-- session's time zone and an edit of a fraction of a second still shows.
CREATE FUNCTION audit.seal_time(t timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') $$;

-- What a seal covers, rebuilt from the records as they are now (NULL when the run is missing or
-- the kind or version is unknown). Version 1:
--   start: {v, seq, kind, run: {run_id, command, args, operator, code_version, started_at}}
--   end:   the same, plus end: {finished_at, status, exit_code, summary},
--          inputs: files this run loaded (hash, size, counts, mapping hash, times, and per file
--                  the number of reject rows and a sha256 over their reject_id:line:column,
--                  never their values: the seal is readable by auditors),
--          superseded: files this run replaced, outputs: files it wrote (hash, size),
--          evaluations: rules evaluations it made (as-of date, plan id, version and hash, evidence hash).
-- A later version (more sealed, e.g. claims) adds a branch for p_version = 2 and keeps version 1
-- exactly as it is, so old seals still verify.
CREATE FUNCTION audit.seal_content(p_run_id bigint, p_kind text, p_seq bigint, p_version integer)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT CASE
    WHEN p_version IS DISTINCT FROM 1 OR p_kind NOT IN ('start', 'end') THEN NULL
    WHEN p_kind = 'start' THEN jsonb_build_object('v', 1, 'seq', p_seq, 'kind', 'start', 'run', x.run)
    ELSE jsonb_build_object(
      'v', 1, 'seq', p_seq, 'kind', 'end', 'run', x.run,
      'end', (SELECT jsonb_build_object('finished_at', audit.seal_time(e.finished_at), 'status', e.status,
                                        'exit_code', e.exit_code, 'summary', e.summary)
              FROM audit.run_end e WHERE e.run_id = p_run_id),
      'inputs', COALESCE((
        SELECT jsonb_agg(jsonb_build_object(
                 'file_id', f.file_id, 'source', f.source, 'file_name', f.file_name, 'sha256', f.sha256,
                 'size_bytes', f.size_bytes, 'rows_read', f.rows_read, 'rows_loaded', f.rows_loaded,
                 'rows_rejected', f.rows_rejected, 'mapping_sha256', f.mapping_sha256,
                 'started_at', audit.seal_time(f.started_at), 'loaded_at', audit.seal_time(f.loaded_at),
                 'rejects', (SELECT jsonb_build_object(
                                'rows', count(*),
                                'sha256', encode(sha256(convert_to(COALESCE(string_agg(j.reject_id || ':' || j.line || ':' || COALESCE(j.column_name, ''), E'\n' ORDER BY j.reject_id), ''), 'UTF8')), 'hex'))
                             FROM audit.reject j WHERE j.file_id = f.file_id))
               ORDER BY f.file_id)
        FROM audit.input_file f WHERE f.run_id = p_run_id), '[]'::jsonb),
      'superseded', COALESCE((
        SELECT jsonb_agg(jsonb_build_object('file_id', s.file_id, 'superseded_by', s.superseded_by, 'reason', s.reason,
                                            'superseded_at', audit.seal_time(s.superseded_at))
               ORDER BY s.file_id)
        FROM audit.file_supersession s WHERE s.run_id = p_run_id), '[]'::jsonb),
      'outputs', COALESCE((
        SELECT jsonb_agg(jsonb_build_object('output_id', o.output_id, 'kind', o.kind, 'path', o.path, 'sha256', o.sha256,
                                            'size_bytes', o.size_bytes, 'recorded_at', audit.seal_time(o.recorded_at))
               ORDER BY o.output_id)
        FROM audit.output_file o WHERE o.run_id = p_run_id), '[]'::jsonb),
      'evaluations', COALESCE((
        SELECT jsonb_agg(jsonb_build_object('evaluation_id', v.evaluation_id, 'as_of', to_char(v.as_of, 'YYYY-MM-DD'),
                                            'plan_id', v.plan_id, 'plan_version', v.plan_version, 'plan_sha256', v.plan_sha256,
                                            'evidence_sha256', v.evidence_sha256)
               ORDER BY v.evaluation_id)
        FROM core.rules_evaluation v WHERE v.run_id = p_run_id), '[]'::jsonb))
  END
  FROM (SELECT jsonb_build_object('run_id', r.run_id, 'command', r.command, 'args', r.args, 'operator', r.operator,
                                  'code_version', r.code_version, 'started_at', audit.seal_time(r.started_at)) AS run
        FROM audit.run r WHERE r.run_id = p_run_id) x
$$;
COMMENT ON FUNCTION audit.seal_content(bigint, text, bigint, integer) IS 'What seal (run_id, kind, seq) of version v covers, rebuilt from the records now. See docs/auditors.md.';

-- ---- guards attached ----------------------------------------------------------------------------

-- The trail of what happened: never changed.
SELECT audit.make_append_only(t) FROM unnest(ARRAY[
  'audit.run', 'audit.run_end', 'audit.run_seal', 'audit.input_file', 'audit.file_supersession',
  'audit.reject', 'audit.output_file',
  'core.link_model', 'core.link_pair', 'core.person_change', 'core.family_change', 'core.review_decision'
]::regclass[]) AS t;

-- Rules results: final once their run has ended (until then the run may re-evaluate).
SELECT audit.make_append_only_after_run(t) FROM unnest(ARRAY[
  'core.rules_evaluation', 'core.rule_evidence', 'core.problem_at_entry', 'core.eligible_unattached',
  'core.problem_result', 'core.family_verdict', 'core.tier_history'
]::regclass[]) AS t;

-- ---- 4. auditors' views (verbatim copy of sql/auditor_views.sql) ------------------------------
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
