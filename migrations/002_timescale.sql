-- tbg:requires timescaledb
--
-- 002_timescale: TimescaleDB extras, applied only when the extension can be created (the migrator
-- probes pg_available_extensions and tries CREATE EXTENSION in a rolled-back transaction; any error
-- means "absent"). Without it this step is skipped and NOT recorded, so it applies on a later start
-- once the extension is installed. It is written to be valid on top of any later schema and on
-- tables that already hold rows (migrate_data).
--
-- Plain path equivalent (what runs on Debian PostgreSQL and PGlite): BRIN time indexes from 001,
-- shares_hourly maintained by the writer, retention by src/storage/retention.ts (batched DELETE).
--
-- Uses the TimescaleDB 2.x function names (create_hypertable with a column name, add_*_policy);
-- they are still accepted by 2.18+ where compression is also called "columnstore".

CREATE EXTENSION IF NOT EXISTS timescaledb;

-- Hypertables. Both primary keys already include ts (a hypertable's unique indexes must contain the
-- partitioning column).
SELECT create_hypertable('shares', 'ts', chunk_time_interval => INTERVAL '1 day',
                         if_not_exists => TRUE, migrate_data => TRUE);
SELECT create_hypertable('event_log', 'ts', chunk_time_interval => INTERVAL '7 days',
                         if_not_exists => TRUE, migrate_data => TRUE);

-- Compression after 30 days: far beyond any redelivery or replay horizon (JetStream max_age 24 h),
-- so late ON CONFLICT inserts never hit compressed chunks.
ALTER TABLE shares SET (timescaledb.compress,
                        timescaledb.compress_segmentby = 'user_id',
                        timescaledb.compress_orderby = 'ts DESC');
SELECT add_compression_policy('shares', INTERVAL '30 days', if_not_exists => TRUE);

-- Raw shares are kept 90 days; shares_hourly (a normal table) keeps the history.
SELECT add_retention_policy('shares', INTERVAL '90 days', if_not_exists => TRUE);
SELECT add_retention_policy('event_log', INTERVAL '90 days', if_not_exists => TRUE);

-- Continuous hourly aggregate over raw shares. The application reads shares_hourly (identical on
-- both paths); this view is for ad-hoc analysis and cross-checks the writer's roll-up. Created WITH
-- NO DATA (allowed inside the migration transaction); the policy fills it.
CREATE MATERIALIZED VIEW shares_hourly_cagg WITH (timescaledb.continuous) AS
  SELECT time_bucket(INTERVAL '1 hour', ts) AS bucket, user_id, worker_id,
         count(*) FILTER (WHERE accepted)                       AS accepted_shares,
         count(*) FILTER (WHERE NOT accepted)                   AS rejected_shares,
         coalesce(sum(difficulty) FILTER (WHERE accepted), 0)   AS accepted_work,
         max(share_difficulty) FILTER (WHERE accepted)          AS best_share_difficulty
  FROM shares
  GROUP BY bucket, user_id, worker_id
  WITH NO DATA;
SELECT add_continuous_aggregate_policy('shares_hourly_cagg',
  start_offset => INTERVAL '3 days', end_offset => INTERVAL '1 hour',
  schedule_interval => INTERVAL '30 minutes', if_not_exists => TRUE);
