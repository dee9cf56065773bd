-- Lab step 8: a flat table for BI tools. CROSS JOIN UNNEST keeps one row per (cloud layer, weather condition)
-- pair, so a message without any cloud layer or present-weather report has no row here (as in the lab).
-- Athena's CREATE TABLE AS has no IF NOT EXISTS: run drop_flat first (`make pipeline-flatten TARGET=aws` runs both).
CREATE TABLE "${database}"."${flat_table}" AS
SELECT
  weather_station,
  latitude,
  longitude,
  elevation,
  "time",
  air_temperature.value AS air_temperature,
  dew_point.value AS dew_point,
  wind_speed.value AS wind_speed,
  sea_level_pressure.value AS sea_level_pressure,
  sky_ceiling.value AS sky_ceiling,
  visibility_distance.value AS visibility_distance,
  sky_cov.cloud_type AS cloud_type,
  weather_cond.present_weather_condition AS present_weather_condition
FROM "${database}"."${table}"
CROSS JOIN UNNEST(sky_cover_condition) AS t(sky_cov)
CROSS JOIN UNNEST(weather_condition) AS u(weather_cond)
