-- Lab step 8, first: drop the flat table so the flattening query below can create it again (Athena's CREATE TABLE
-- AS has no IF NOT EXISTS). Hive DDL: the names are plain identifiers, unquoted.
DROP TABLE IF EXISTS ${database}.${flat_table}
