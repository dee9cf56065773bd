-- Dashboard: message rate and end-to-end latency per station. Latency is the lake writer's arrival time
-- (its ledger, loaded as the arrivals table) minus the station's `sent_at`; rate is messages per second
-- of publishing between the first and the last `sent_at`.
SELECT
  w.weather_station,
  w.thing_name,
  count(*) AS messages,
  date_diff('millisecond', min(from_iso8601_timestamp(w.sent_at)), max(from_iso8601_timestamp(w.sent_at))) AS span_ms,
  approx_percentile(date_diff('millisecond', from_iso8601_timestamp(w.sent_at), from_iso8601_timestamp(a.received_at)), 0.5) AS latency_p50_ms,
  approx_percentile(date_diff('millisecond', from_iso8601_timestamp(w.sent_at), from_iso8601_timestamp(a.received_at)), 0.95) AS latency_p95_ms,
  max(date_diff('millisecond', from_iso8601_timestamp(w.sent_at), from_iso8601_timestamp(a.received_at))) AS latency_max_ms
FROM "${database}"."${table}" AS w
LEFT JOIN "${database}"."${arrivals_table}" AS a
  ON a.thing_name = w.thing_name AND a.seq = w.seq
GROUP BY w.weather_station, w.thing_name
ORDER BY w.weather_station
