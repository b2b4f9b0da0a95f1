#include "metrics/text_format.h"

#include <fmt/format.h>

#include <cmath>

namespace s3m::metrics {
namespace {

// HELP text escapes backslash and newline; label values also the double quote.
std::string Escape(const std::string& s, bool quote) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

// "{a=\"1\",b=\"2\"}", with an optional extra label last (le), or "" when there is none.
std::string LabelText(const Labels& labels, const char* extra_name = nullptr,
                      const std::string& extra_value = "") {
  if (labels.empty() && extra_name == nullptr) return "";
  std::string out = "{";
  for (const auto& [name, value] : labels) {
    if (out.size() > 1) out += ',';
    out += name + "=\"" + Escape(value, true) + '"';
  }
  if (extra_name != nullptr) {
    if (out.size() > 1) out += ',';
    out += std::string(extra_name) + "=\"" + extra_value + '"';
  }
  return out + "}";
}

const char* TypeName(Type t) {
  switch (t) {
    case Type::kCounter:
      return "counter";
    case Type::kGauge:
      return "gauge";
    case Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Counters up to 2^53 are exact in a double; print them as integers.
  if (v == std::floor(v) && std::fabs(v) < 9007199254740992.0) {
    return fmt::format("{}", static_cast<int64_t>(v));
  }
  return fmt::format("{}", v);
}

std::string FormatText(const Snapshot& snapshot) {
  std::string out;
  for (const FamilySnapshot& f : snapshot) {
    if (f.series.empty()) continue;
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", f.name, Escape(f.help, false), f.name,
                       TypeName(f.type));
    for (const SeriesSnapshot& s : f.series) {
      if (f.type != Type::kHistogram) {
        out += f.name + LabelText(s.labels) + ' ' + FormatValue(s.value) + '\n';
        continue;
      }
      for (size_t i = 0; i < s.cumulative.size(); i++) {
        std::string le = i < s.bounds.size() ? FormatValue(s.bounds[i]) : "+Inf";
        out += f.name + "_bucket" + LabelText(s.labels, "le", le) + ' ' +
               FormatValue(static_cast<double>(s.cumulative[i])) + '\n';
      }
      out += f.name + "_sum" + LabelText(s.labels) + ' ' + FormatValue(s.sum) + '\n';
      out += f.name + "_count" + LabelText(s.labels) + ' ' +
             FormatValue(static_cast<double>(s.count)) + '\n';
    }
  }
  return out;
}

std::map<std::string, double> Flatten(const Snapshot& snapshot) {
  std::map<std::string, double> out;
  for (const FamilySnapshot& f : snapshot) {
    for (const SeriesSnapshot& s : f.series) {
      if (f.type == Type::kHistogram) {
        out[f.name + "_count" + LabelText(s.labels)] = static_cast<double>(s.count);
        out[f.name + "_sum" + LabelText(s.labels)] = s.sum;
      } else {
        out[f.name + LabelText(s.labels)] = s.value;
      }
    }
  }
  return out;
}

}  // namespace s3m::metrics
