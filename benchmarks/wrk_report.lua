-- wrk's summary as one JSON line (wrk -s benchmarks/wrk_report.lua ...): requests per
-- second, latency percentiles in microseconds, bytes, and every kind of error (non-2xx
-- and non-3xx answers count as "status").
done = function(summary, latency, requests)
  local seconds = summary.duration / 1e6
  io.write(string.format(
    '\nJSON {"requests": %d, "seconds": %.3f, "rps": %.2f, "p50": %d, "p95": %d, "p99": %d, ' ..
    '"max": %d, "bytes": %d, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    summary.bytes, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout))
end
