-- Ages without numeric arithmetic, and school age in one inlinable function.
--
-- EXTRACT returns numeric (PostgreSQL 14 on), and core.age_on(dob, core.last_anniversary(d, 8, 31))
-- referred to its date three times: PostgreSQL does not inline a SQL function whose argument is
-- an expression it would have to evaluate more than once, so the school-age test ran as an
-- interpreted function call per row (7.4 s for 600k members against 1.1 s for this version; at
-- the 1x bench it was the slowest step of evaluate). Same definitions as before (docs/rules.md,
-- src/rules/dates.ts; test/rules/boundaries.test.ts holds the SQL to the TypeScript):
-- the age on D is the whole years from dob to D, a birthday counting on its month and day.

-- A date as the integer YYYYMMDD; whole years between two dates = the difference div 10000
-- (floored: the offset keeps the dividend positive for any date PostgreSQL can hold).
CREATE OR REPLACE FUNCTION core.age_on(dob date, on_date date) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT ((date_part('year', on_date) * 10000 + date_part('month', on_date) * 100 + date_part('day', on_date))::integer
        - (date_part('year', dob) * 10000 + date_part('month', dob) * 100 + date_part('day', dob))::integer
        + 100000000) / 10000 - 10000
$$;

-- The most recent given month/day (31 August for school age) on or before a date.
CREATE OR REPLACE FUNCTION core.last_anniversary(on_date date, month integer, day integer) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT make_date(date_part('year', on_date)::integer
                   - CASE WHEN date_part('month', on_date) * 100 + date_part('day', on_date) < month * 100 + day THEN 1 ELSE 0 END,
                   month, day)
$$;

-- core.age_on(dob, core.last_anniversary(on_date, month, day)) as one expression, so that it is
-- inlined (school age: the age on the last 31 August on or before the date).
CREATE FUNCTION core.age_on_last_anniversary(dob date, on_date date, month integer, day integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT (((date_part('year', on_date)::integer
            - CASE WHEN date_part('month', on_date) * 100 + date_part('day', on_date) < month * 100 + day THEN 1 ELSE 0 END) * 10000
           + month * 100 + day)
        - (date_part('year', dob) * 10000 + date_part('month', dob) * 100 + date_part('day', dob))::integer
        + 100000000) / 10000 - 10000
$$;
COMMENT ON FUNCTION core.age_on_last_anniversary(date, date, integer, integer) IS
  'Age in whole years on the last MONTH-DAY on or before ON_DATE (school age: 31 August); equals core.age_on(dob, core.last_anniversary(on_date, month, day)).';
