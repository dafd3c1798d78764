# table.jq: the Markdown table of compare.sh's results, from the JSON summary
# lines of finesse-load (slurped into an array) with compare.sh's
# bench_server and bench_scenario added; $labels maps a server to its name
# and version.

def num($digits):
  if . == null then "–" else (. * pow(10; $digits) | round / pow(10; $digits) | tostring) end;
def int: if . == null then "–" else (round | tostring) end;

def ms: if . == null then "–" else (. * 10 | round / 10 | tostring) end;

# The shared scenario: the highest clean rate, the 1 publish/s step, and
# the step that stopped the climb.
def steps_note:
  (.steps // []) as $steps
  | ([$steps[] | select(.clean)] | last) as $best
  | ([$steps[] | select(.clean | not)] | first) as $stop
  | ([$steps[] | select(.rate == 1)] | first) as $one
  | [ (if $best then "clean up to \($best.rate | int) publishes/s (\($best.delivered_per_sec | int) deliveries/s)"
       else "no clean step" end),
      (if $one and ($stop.rate // 0) != 1 then "at 1 publish/s p99 \($one.p99_ms | ms) ms" else empty end),
      (if $stop then "stopped at \($stop.rate | int)/s: p99 \($stop.p99_ms | ms) ms, lost \($stop.lost)" else empty end)
    ] | join("; ");

def note:
  if .error then "no summary (finesse-load exited \(.bench_exit))"
  else
    [ (if .steps then steps_note else empty end),
      (if .mode == "idle" then "pings answered \(.pings_answered | int)" else empty end),
      (if (.failed_logins // 0) > 0 then "\(.failed_logins) logins failed" else empty end),
      (if (.dropped // 0) > 0 then "\(.dropped) sessions dropped" else empty end),
      (if .steps then empty else
        ((if (.duplicated // 0) > 0 then "\(.duplicated) duplicated" else empty end),
         (if (.out_of_order // 0) > 0 then "\(.out_of_order) out of order" else empty end),
         (if (.misrouted // 0) > 0 then "\(.misrouted) misrouted" else empty end),
         (if (.publish_errors // 0) > 0 then "\(.publish_errors) publishes failed" else empty end))
       end),
      (if .timed_out then "timed out" else empty end)
    ] | join("; ")
  end;

"| server | scenario | sessions | logins/s | delivered/s | p50 ms | p99 ms | lost | KB/session | notes |",
"|---|---|--:|--:|--:|--:|--:|--:|--:|---|",
(.[] |
  "| \($labels[.bench_server] // .bench_server) | \(.bench_scenario) | \(if .error then "–" else "\(.established | int)/\(.sessions | int)" end) | \(.logins_per_sec | int) | \(.delivered_per_sec | int) | \(.p50_ms | num(1)) | \(.p99_ms | num(1)) | \(.lost | int) | \(.rss_kb_per_session | num(1)) | \(note) |")
