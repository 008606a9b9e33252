-- Rules (issue 4): identification, significant and sustained progress, continuous employment and
-- tiers of support, with the evidence for every decision. One evaluation = one call of the rules
-- stage (src/rules/evaluate.ts) for an as-of date and a plan; everything it decided hangs off its
-- evaluation_id and is never updated afterwards. A later run writes a new evaluation, so a claim
-- can always point at the evidence it was made on; the same inputs and plan reproduce the same
-- rows (evidence_sha256 is equal). Re-evaluating within one run with the same as-of date and
-- plan replaces that run's earlier evaluation (ON DELETE CASCADE).

-- Age in whole years on a date (birthday reached when month-day of on_date >= that of dob).
CREATE FUNCTION core.age_on(dob date, on_date date) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT (extract(year FROM on_date) - extract(year FROM dob))::integer
       - CASE WHEN extract(month FROM on_date) * 100 + extract(day FROM on_date)
                 < extract(month FROM dob) * 100 + extract(day FROM dob) THEN 1 ELSE 0 END
$$;

-- The most recent given month/day (31 August for school age) on or before a date.
CREATE FUNCTION core.last_anniversary(on_date date, month integer, day integer) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN on_date >= make_date(extract(year FROM on_date)::integer, month, day)
              THEN make_date(extract(year FROM on_date)::integer, month, day)
              ELSE make_date(extract(year FROM on_date)::integer - 1, month, day) END
$$;

CREATE TABLE core.rules_evaluation (
  evaluation_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id           bigint      NOT NULL REFERENCES audit.run (run_id),
  as_of            date        NOT NULL,
  plan_id          text        NOT NULL,
  plan_version     text        NOT NULL,
  plan_sha256      text        NOT NULL CHECK (plan_sha256 ~ '^[0-9a-f]{64}$'),
  -- The validated plan as evaluated (defaults filled in): its canonical JSON hashes to plan_sha256.
  plan             jsonb       NOT NULL,
  summary          jsonb       NOT NULL DEFAULT '{}'::jsonb,
  -- sha256 over every row this evaluation wrote, in a fixed order (see src/rules/evaluate.ts).
  evidence_sha256  text        CHECK (evidence_sha256 ~ '^[0-9a-f]{64}$'),
  evaluated_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  CONSTRAINT rules_evaluation_once UNIQUE (run_id, as_of, plan_sha256)
);
COMMENT ON TABLE core.rules_evaluation IS 'One evaluation of the rules: as-of date, plan (id, version, hash) and run; parent of every rules result.';

-- One row per rule evaluated for a family: identification rules at D (attached families: every
-- rule; others: only families found eligible), progress rules at T for each problem at entry,
-- the progress time gate, and continuous employment.
CREATE TABLE core.rule_evidence (
  evaluation_id   bigint  NOT NULL REFERENCES core.rules_evaluation (evaluation_id) ON DELETE CASCADE,
  family_id       bigint  NOT NULL REFERENCES core.family (family_id),
  case_ref        text,
  phase           text    NOT NULL CHECK (phase IN ('identification', 'progress', 'continuous_employment')),
  -- The problem code; '' for rules of the whole family (the progress time gate, continuous employment).
  problem         text    NOT NULL,
  -- Position of the rule in the plan's list for that problem and phase (0-based); -1 for the
  -- time gate, -2 for an equivalent-progress attestation.
  rule_index      integer NOT NULL,
  rule            text    NOT NULL,
  parameters      jsonb   NOT NULL,
  measured        jsonb   NOT NULL,
  threshold       jsonb   NOT NULL,
  result          text    NOT NULL CHECK (result IN ('pass', 'fail', 'neutral', 'insufficient_data', 'not_applicable')),
  -- `source:record_id` of every record the measurement used.
  source_records  text[]  NOT NULL DEFAULT '{}',
  attested_by     text,
  -- The date the rule tested: D (identification) or T (progress, continuous employment).
  tested_on       date    NOT NULL,
  as_of           date    NOT NULL,
  plan_id         text    NOT NULL,
  plan_sha256     text    NOT NULL,
  run_id          bigint  NOT NULL REFERENCES audit.run (run_id),
  PRIMARY KEY (evaluation_id, family_id, phase, problem, rule_index)
);
CREATE INDEX rule_evidence_family_idx ON core.rule_evidence (family_id, evaluation_id);

-- Problems identified at entry (D = attached_on) for attached families, and where each came from.
CREATE TABLE core.problem_at_entry (
  evaluation_id   bigint  NOT NULL REFERENCES core.rules_evaluation (evaluation_id) ON DELETE CASCADE,
  family_id       bigint  NOT NULL REFERENCES core.family (family_id),
  case_ref        text    NOT NULL,
  problem         text    NOT NULL,
  identified_on   date    NOT NULL,
  from_data       boolean NOT NULL,
  from_keyworker  boolean NOT NULL,
  run_id          bigint  NOT NULL REFERENCES audit.run (run_id),
  PRIMARY KEY (evaluation_id, family_id, problem),
  CHECK (from_data OR from_keyworker)
);

-- Families not in the register that meet identification at the as-of date (data only).
CREATE TABLE core.eligible_unattached (
  evaluation_id   bigint  NOT NULL REFERENCES core.rules_evaluation (evaluation_id) ON DELETE CASCADE,
  family_id       bigint  NOT NULL REFERENCES core.family (family_id),
  as_of           date    NOT NULL,
  problems        text[]  NOT NULL,
  run_id          bigint  NOT NULL REFERENCES audit.run (run_id),
  PRIMARY KEY (evaluation_id, family_id)
);

-- Each problem at entry of an attached family, judged as of T.
CREATE TABLE core.problem_result (
  evaluation_id       bigint  NOT NULL REFERENCES core.rules_evaluation (evaluation_id) ON DELETE CASCADE,
  family_id           bigint  NOT NULL REFERENCES core.family (family_id),
  problem             text    NOT NULL,
  -- false: counts for eligibility only, not tested for the progress route (plan's required_for_progress).
  required            boolean NOT NULL,
  -- What the plan's progress rules gave on their own.
  data_result         text    NOT NULL CHECK (data_result IN ('pass', 'fail', 'neutral', 'insufficient_data')),
  -- The result that counts: data_result, or pass by an equivalent-progress attestation.
  result              text    NOT NULL CHECK (result IN ('pass', 'fail', 'neutral', 'insufficient_data')),
  decided_by          text    NOT NULL CHECK (decided_by IN ('data', 'attestation')),
  attested_by         text,
  run_id              bigint  NOT NULL REFERENCES audit.run (run_id),
  PRIMARY KEY (evaluation_id, family_id, problem)
);

-- The verdict per attached family as of T (claims add "never claimed before" on top).
CREATE TABLE core.family_verdict (
  evaluation_id        bigint  NOT NULL REFERENCES core.rules_evaluation (evaluation_id) ON DELETE CASCADE,
  family_id            bigint  NOT NULL REFERENCES core.family (family_id),
  case_ref             text    NOT NULL,
  attached_on          date    NOT NULL,
  as_of                date    NOT NULL,
  problems_at_entry    text[]  NOT NULL,
  eligible             boolean NOT NULL,
  -- T is at least progress_due_months after A.
  progress_due         boolean NOT NULL,
  ssp_met              boolean NOT NULL,
  ce_met               boolean NOT NULL,
  claimable_by_rules   boolean NOT NULL,
  route                text    CHECK (route IN ('continuous_employment', 'significant_sustained_progress')),
  financial_year       text    NOT NULL,
  -- The plan's results payment for the financial year containing T (null when the plan has none for it).
  payment_gbp          numeric(12, 2),
  plan_id              text    NOT NULL,
  plan_sha256          text    NOT NULL,
  run_id               bigint  NOT NULL REFERENCES audit.run (run_id),
  PRIMARY KEY (evaluation_id, family_id),
  CHECK ((route IS NOT NULL) = claimable_by_rules),
  CHECK (NOT claimable_by_rules OR (eligible AND (ssp_met OR ce_met)))
);
CREATE INDEX family_verdict_case_ref_idx ON core.family_verdict (case_ref, evaluation_id);

-- Every child's tier of support over time from social care episodes (Families Matter: Tier 2
-- early_help, Tier 3 cin, Tier 4 cp_plan or lac; 0 = no open episode of those types). One row
-- per change: opened (from 0), step_up, step_down, closed (to 0).
CREATE TABLE core.tier_history (
  evaluation_id   bigint   NOT NULL REFERENCES core.rules_evaluation (evaluation_id) ON DELETE CASCADE,
  person_id       bigint   NOT NULL REFERENCES core.person (person_id),
  family_id       bigint   REFERENCES core.family (family_id),
  from_date       date     NOT NULL,
  -- Last day at this tier; null = still at it on the as-of date.
  to_date         date,
  tier            smallint NOT NULL CHECK (tier IN (0, 2, 3, 4)),
  previous_tier   smallint NOT NULL CHECK (previous_tier IN (0, 2, 3, 4)),
  change          text     NOT NULL CHECK (change IN ('opened', 'step_up', 'step_down', 'closed')),
  source_records  text[]   NOT NULL DEFAULT '{}',
  run_id          bigint   NOT NULL REFERENCES audit.run (run_id),
  PRIMARY KEY (evaluation_id, person_id, from_date)
);
CREATE INDEX tier_history_family_idx ON core.tier_history (family_id, evaluation_id);
