-- Claims, the ledger and the internal audit workflow (issue 5, items 1-3). See docs/claims.md.
--
-- A claim is a row of core.claim with its lines in core.claim_line. Drafting a window writes a
-- new draft claim (the newest draft of a window is the draft in force; earlier ones stay as the
-- record of what each run drafted). Finalising writes a NEW claim with status 'submitted' that
-- points at the draft it came from and the audit sample that checked it, with the draft's lines
-- less those that failed the audit. Nothing here is ever updated or deleted (append-only
-- triggers from migration 0006): a correction is a new linked row (core.claim_withdrawal).
--
-- THE LEDGER: a family is claimed at most once in the life of the programme. The database
-- enforces it with partial unique indexes over the lines of submitted claims, by family_id and
-- by case_ref, so two finalises at the same moment, a re-run of a window or a later window can
-- never submit a family twice: the second INSERT waits for the first transaction and then fails
-- with a unique violation (23505). A line's status is the status of its claim, held by a
-- composite foreign key so the two cannot disagree.

CREATE TABLE core.claim (
  claim_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- The claim window id, e.g. 2026-Q3. It names files (claim-<window>.csv), hence the pattern.
  window_id      text        NOT NULL CHECK (window_id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  status         text        NOT NULL CHECK (status IN ('draft', 'submitted')),
  -- The cut-off date T the rules were evaluated as of.
  as_of          date        NOT NULL,
  financial_year text        NOT NULL,
  evaluation_id  bigint      NOT NULL REFERENCES core.rules_evaluation (evaluation_id),
  plan_id        text        NOT NULL,
  plan_version   text        NOT NULL,
  plan_sha256    text        NOT NULL CHECK (plan_sha256 ~ '^[0-9a-f]{64}$'),
  -- Submitted claims: the draft they came from and the audit sample that checked it.
  draft_id       bigint      REFERENCES core.claim (claim_id),
  sample_id      bigint,
  lines          integer     NOT NULL CHECK (lines >= 0),
  total_gbp      numeric(14, 2) NOT NULL CHECK (total_gbp >= 0),
  -- sha256 of the claim CSV's lines (header included): equal hashes = the same claim lines.
  lines_sha256   text        NOT NULL CHECK (lines_sha256 ~ '^[0-9a-f]{64}$'),
  -- The folder the claim files were written to (absolute), the default for audit sample and finalise.
  out_dir        text        NOT NULL,
  run_id         bigint      NOT NULL REFERENCES audit.run (run_id),
  created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  CONSTRAINT claim_status_key UNIQUE (claim_id, status),
  CONSTRAINT claim_submitted_has_draft CHECK ((status = 'submitted') = (draft_id IS NOT NULL AND sample_id IS NOT NULL))
);
-- One submitted claim per window, ever.
CREATE UNIQUE INDEX claim_one_submission_per_window ON core.claim (window_id) WHERE status = 'submitted';
CREATE INDEX claim_window_idx ON core.claim (window_id, claim_id);
COMMENT ON TABLE core.claim IS 'Claims: each draft of a window, and at most one submitted claim per window (append-only). See docs/claims.md.';

CREATE TABLE core.claim_line (
  claim_id          bigint  NOT NULL,
  -- Copied from the claim (held equal by the foreign key below) for the ledger's partial indexes.
  status            text    NOT NULL,
  line_no           integer NOT NULL CHECK (line_no >= 1),
  family_id         bigint  NOT NULL REFERENCES core.family (family_id),
  case_ref          text    NOT NULL,
  route             text    NOT NULL CHECK (route IN ('continuous_employment', 'significant_sustained_progress')),
  attached_on       date    NOT NULL,
  -- The date the outcome is claimed as achieved: the cut-off T the rules found it met on.
  outcome_date      date    NOT NULL,
  problems_at_entry text[]  NOT NULL,
  amount_gbp        numeric(12, 2) NOT NULL CHECK (amount_gbp > 0),
  PRIMARY KEY (claim_id, line_no),
  CONSTRAINT claim_line_family_once UNIQUE (claim_id, family_id),
  CONSTRAINT claim_line_case_ref_once UNIQUE (claim_id, case_ref),
  CONSTRAINT claim_line_claim_fk FOREIGN KEY (claim_id, status) REFERENCES core.claim (claim_id, status)
);
-- THE LEDGER: each family, and each case_ref, in at most one submitted claim line, ever.
CREATE UNIQUE INDEX claim_line_family_claimed_once ON core.claim_line (family_id) WHERE status = 'submitted';
CREATE UNIQUE INDEX claim_line_case_ref_claimed_once ON core.claim_line (case_ref) WHERE status = 'submitted';
COMMENT ON TABLE core.claim_line IS 'Claim lines (one per family). Partial unique indexes make a family (and a case_ref) claimable in at most one submitted claim, ever.';

-- A submitted line withdrawn later (found ineligible, a duplicate...): a new record with a
-- reason, never an edit. A withdrawn family stays in the ledger: it is not claimed again.
CREATE TABLE core.claim_withdrawal (
  withdrawal_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  claim_id       bigint      NOT NULL,
  status         text        NOT NULL DEFAULT 'submitted' CHECK (status = 'submitted'),
  family_id      bigint      NOT NULL,
  case_ref       text        NOT NULL,
  reason         text        NOT NULL CHECK (btrim(reason) <> ''),
  withdrawn_by   text        NOT NULL CHECK (btrim(withdrawn_by) <> ''),
  run_id         bigint      NOT NULL REFERENCES audit.run (run_id),
  withdrawn_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  CONSTRAINT claim_withdrawal_once UNIQUE (claim_id, family_id),
  CONSTRAINT claim_withdrawal_submitted FOREIGN KEY (claim_id, status) REFERENCES core.claim (claim_id, status),
  CONSTRAINT claim_withdrawal_line FOREIGN KEY (claim_id, family_id) REFERENCES core.claim_line (claim_id, family_id)
);
COMMENT ON TABLE core.claim_withdrawal IS 'Withdrawals of submitted claim lines, with reason and who (append-only).';

-- The internal audit sample of a draft: lines ordered by sha256(seed || ':' || case_ref) (hex,
-- byte order), the first sample_size taken (method sha256-order-v1, docs/claims.md), so anyone can
-- redraw it from the seed and the draft's lines.
CREATE TABLE core.audit_sample (
  sample_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  claim_id       bigint      NOT NULL,
  claim_status   text        NOT NULL DEFAULT 'draft' CHECK (claim_status = 'draft'),
  window_id      text        NOT NULL,
  -- The draft's lines_sha256: the sample stands for any later draft with the same lines.
  lines_sha256   text        NOT NULL,
  seed           bigint      NOT NULL CHECK (seed >= 0),
  fraction       numeric     NOT NULL CHECK (fraction > 0 AND fraction <= 1),
  method         text        NOT NULL,
  draft_lines    integer     NOT NULL CHECK (draft_lines >= 1),
  sample_size    integer     NOT NULL CHECK (sample_size >= 1 AND sample_size <= draft_lines),
  run_id         bigint      NOT NULL REFERENCES audit.run (run_id),
  drawn_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
  CONSTRAINT audit_sample_of_draft FOREIGN KEY (claim_id, claim_status) REFERENCES core.claim (claim_id, status)
);
CREATE INDEX audit_sample_window_idx ON core.audit_sample (window_id, sample_id);
ALTER TABLE core.claim ADD CONSTRAINT claim_sample_fk FOREIGN KEY (sample_id) REFERENCES core.audit_sample (sample_id);

CREATE TABLE core.audit_sample_line (
  sample_id      bigint  NOT NULL REFERENCES core.audit_sample (sample_id),
  rank           integer NOT NULL CHECK (rank >= 1),
  family_id      bigint  NOT NULL REFERENCES core.family (family_id),
  case_ref       text    NOT NULL,
  -- sha256(seed || ':' || case_ref), the sort key.
  sort_key       text    NOT NULL,
  PRIMARY KEY (sample_id, case_ref),
  UNIQUE (sample_id, rank)
);

-- Each check of a sampled line by a named person. The latest per line counts, so a failed line
-- can be re-verified (a new row); earlier rows stay.
CREATE TABLE core.audit_verification (
  verification_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  sample_id       bigint      NOT NULL,
  case_ref        text        NOT NULL,
  result          text        NOT NULL CHECK (result IN ('pass', 'fail')),
  verified_by     text        NOT NULL CHECK (btrim(verified_by) <> ''),
  note            text,
  run_id          bigint      NOT NULL REFERENCES audit.run (run_id),
  verified_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  CONSTRAINT audit_verification_line FOREIGN KEY (sample_id, case_ref) REFERENCES core.audit_sample_line (sample_id, case_ref)
);
CREATE INDEX audit_verification_line_idx ON core.audit_verification (sample_id, case_ref, verification_id);

-- The ledger as finance and auditors read it: every family in a submitted claim.
CREATE VIEW core.claimed_family AS
SELECT l.family_id, l.case_ref, c.window_id, c.claim_id, l.line_no, l.route, l.outcome_date, l.amount_gbp,
       c.created_at AS submitted_at, c.run_id,
       (w.withdrawal_id IS NOT NULL) AS withdrawn, w.withdrawn_at
FROM core.claim_line l
JOIN core.claim c ON c.claim_id = l.claim_id
LEFT JOIN core.claim_withdrawal w ON w.claim_id = l.claim_id AND w.family_id = l.family_id
WHERE l.status = 'submitted';
COMMENT ON VIEW core.claimed_family IS 'The ledger: every family in a submitted claim (once, ever), with withdrawal if any.';

-- Append-only (audit.make_append_only from migration 0006: UPDATE, DELETE and TRUNCATE refused).
SELECT audit.make_append_only(t) FROM unnest(ARRAY[
  'core.claim', 'core.claim_line', 'core.claim_withdrawal',
  'core.audit_sample', 'core.audit_sample_line', 'core.audit_verification'
]::regclass[]) AS t;

-- ---- claims views (verbatim copy of sql/claims_views.sql) ----------------------------------
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
