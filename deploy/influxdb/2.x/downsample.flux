// borderpath: 5-minute rollups of the path view into the long bucket (InfluxDB 2.x),
// with the names and aggregates of the 1.x continuous query, so InfluxQL reads
// FROM "long"."borderpath_path" on either version. Created by setup.sh.
option task = {name: "borderpath-downsample", every: 5m, offset: 1m}

paths =
    from(bucket: "borderpath")
        |> range(start: -task.every)
        |> filter(fn: (r) => r._measurement == "borderpath_path")

rollup = (fields, fn) =>
    paths
        |> filter(fn: (r) => contains(value: r._field, set: fields))
        |> aggregateWindow(every: 5m, fn: fn, createEmpty: false)
        |> to(bucket: "borderpath_long")

rollup(fields: ["loss", "rtt_p50_ms", "jitter_ms", "score"], fn: mean)
rollup(fields: ["loss_upper", "rtt_p95_ms", "state_code", "selected"], fn: max)
rollup(fields: ["mos"], fn: min)
