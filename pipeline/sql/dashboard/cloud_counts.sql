-- Dashboard: distribution of cloud types in the flattened table.
SELECT cloud_type AS label, count(*) AS n
FROM "${database}"."${flat_table}"
WHERE cloud_type IS NOT NULL
GROUP BY cloud_type
ORDER BY n DESC, label
