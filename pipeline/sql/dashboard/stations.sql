-- Dashboard: where the stations are, and how much each one said.
SELECT
  weather_station,
  max(latitude) AS latitude,
  max(longitude) AS longitude,
  max(elevation) AS elevation,
  count(*) AS messages
FROM "${database}"."${table}"
GROUP BY weather_station
ORDER BY weather_station
