-- Dashboard: every distinct reading per station over time (from the raw table: the flat one drops readings
-- without cloud layers or present weather, and repeats the others).
SELECT
  weather_station,
  from_iso8601_timestamp("time") AS observed_at,
  air_temperature.value AS air_temperature
FROM "${database}"."${table}"
WHERE air_temperature.value IS NOT NULL
ORDER BY weather_station, observed_at
