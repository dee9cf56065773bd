-- Lab step 7: average, minimum and maximum air temperature (degrees Celsius) per weather station.
SELECT
  weather_station,
  count(air_temperature.value) AS readings,
  avg(air_temperature.value) AS avg_temperature,
  min(air_temperature.value) AS min_temperature,
  max(air_temperature.value) AS max_temperature
FROM "${database}"."${table}"
GROUP BY weather_station
ORDER BY weather_station
