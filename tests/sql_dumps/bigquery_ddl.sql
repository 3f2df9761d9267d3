CREATE SCHEMA IF NOT EXISTS `acme-prod.analytics` OPTIONS (location = 'US');

CREATE TABLE IF NOT EXISTS `acme-prod.analytics.sessions` (
  session_id STRING NOT NULL,
  user_id INT64,
  started TIMESTAMP,
  device STRUCT<os STRING, version STRING>,
  pages ARRAY<STRING>,
  PRIMARY KEY (session_id) NOT ENFORCED
)
PARTITION BY DATE(started)
CLUSTER BY user_id
OPTIONS (description = 'web sessions');

CREATE TABLE `acme-prod.analytics.events` (
  event_id STRING NOT NULL,
  session_id STRING,
  name STRING,
  FOREIGN KEY (session_id) REFERENCES `acme-prod.analytics.sessions` (session_id) NOT ENFORCED
);

CREATE OR REPLACE VIEW `acme-prod.analytics.daily` AS SELECT DATE(started) AS d, COUNT(*) AS n FROM `acme-prod.analytics.sessions` GROUP BY d;
