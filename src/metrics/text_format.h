// The Prometheus text exposition format (version 0.0.4) of a registry Snapshot, and the
// flat "series -> value" view the metrics log compares between periods.
//
// Pure functions over a snapshot: any thread.
#pragma once

#include <map>
#include <string>

#include "metrics/registry.h"

namespace s3m::metrics {

// The Content-Type of FormatText's output.
inline constexpr const char* kTextContentType = "text/plain; version=0.0.4; charset=utf-8";

// "# HELP", "# TYPE" and one line per sample; histograms as _bucket{le=...}, _sum, _count.
std::string FormatText(const Snapshot& snapshot);

// One entry per sample, keyed by its text-format name and labels
// ("s3mount_s3_requests_total{operation=\"GetObject\",status=\"2xx\"}"); histograms give
// only their _count and _sum (the buckets are for dashboards, not for a log).
std::map<std::string, double> Flatten(const Snapshot& snapshot);

// A sample value as the text format writes it: integers without a fraction, others in
// the shortest form that reads back exactly, and +Inf / -Inf / NaN.
std::string FormatValue(double v);

}  // namespace s3m::metrics
