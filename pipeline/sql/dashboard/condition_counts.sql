-- Dashboard: distribution of present-weather conditions in the flattened table.
SELECT present_weather_condition AS label, count(*) AS n
FROM "${database}"."${flat_table}"
WHERE present_weather_condition IS NOT NULL
GROUP BY present_weather_condition
ORDER BY n DESC, label
