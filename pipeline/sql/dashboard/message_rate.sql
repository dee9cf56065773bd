-- Dashboard: messages per station per minute of publishing (`sent_at`), for the rate chart.
SELECT
  weather_station,
  date_trunc('minute', from_iso8601_timestamp(sent_at)) AS minute,
  count(*) AS messages
FROM "${database}"."${table}"
GROUP BY weather_station, date_trunc('minute', from_iso8601_timestamp(sent_at))
ORDER BY weather_station, minute
