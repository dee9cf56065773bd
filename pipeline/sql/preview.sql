-- Lab step 7: preview the table the crawler (or `pipeline query`) discovered from the lake files.
SELECT *
FROM "${database}"."${table}"
LIMIT 10
