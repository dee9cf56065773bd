-- Lab step 7: average, minimum and maximum air temperature per present-weather condition.
-- A message reporting several conditions counts once under each of them.
SELECT
  weather_cond.present_weather_condition AS weather_condition,
  count(air_temperature.value) AS readings,
  avg(air_temperature.value) AS avg_temperature,
  min(air_temperature.value) AS min_temperature,
  max(air_temperature.value) AS max_temperature
FROM "${database}"."${table}"
CROSS JOIN UNNEST(weather_condition) AS t(weather_cond)
GROUP BY weather_cond.present_weather_condition
ORDER BY weather_condition
