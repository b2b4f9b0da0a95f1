// Parsing helpers for the credential providers (see credential_parsing.h).
#include "s3/credential_parsing.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>

namespace s3m {
namespace {

// Reads `digits` decimal digits at text[*pos] into *out and advances.
bool ReadNumber(std::string_view text, size_t* pos, int digits, int* out) {
  if (*pos + digits > text.size()) return false;
  int value = 0;
  for (int i = 0; i < digits; ++i) {
    char c = text[*pos + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  *pos += digits;
  *out = value;
  return true;
}

bool Expect(std::string_view text, size_t* pos, char c) {
  if (*pos >= text.size() || (text[*pos] != c && !(c == 'T' && text[*pos] == 't'))) return false;
  ++*pos;
  return true;
}

// Parses the zone suffix ("Z", "+hh:mm", "-hh:mm") into an offset from UTC.
std::optional<std::chrono::seconds> ParseZone(std::string_view text, size_t pos) {
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z') && pos + 1 == text.size()) {
    return std::chrono::seconds(0);
  }
  if (pos >= text.size() || (text[pos] != '+' && text[pos] != '-')) return std::nullopt;
  int sign = text[pos] == '-' ? -1 : 1;
  ++pos;
  int hh = 0, mm = 0;
  if (!ReadNumber(text, &pos, 2, &hh) || !Expect(text, &pos, ':') ||
      !ReadNumber(text, &pos, 2, &mm) || pos != text.size()) {
    return std::nullopt;
  }
  return std::chrono::seconds(sign * (hh * 3600 + mm * 60));
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> ParseIso8601(std::string_view text) {
  size_t pos = 0;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (!ReadNumber(text, &pos, 4, &y) || !Expect(text, &pos, '-') ||
      !ReadNumber(text, &pos, 2, &mo) || !Expect(text, &pos, '-') ||
      !ReadNumber(text, &pos, 2, &d) || !Expect(text, &pos, 'T') ||
      !ReadNumber(text, &pos, 2, &h) || !Expect(text, &pos, ':') ||
      !ReadNumber(text, &pos, 2, &mi) || !Expect(text, &pos, ':') ||
      !ReadNumber(text, &pos, 2, &s)) {
    return std::nullopt;
  }
  if (pos < text.size() && text[pos] == '.') {  // fractional seconds: ignored
    ++pos;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) ++pos;
  }
  auto zone = ParseZone(text, pos);
  using namespace std::chrono;
  year_month_day date{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!zone || !date.ok() || h > 23 || mi > 59 || s > 60) return std::nullopt;
  return system_clock::time_point(sys_days(date)) + hours(h) + minutes(mi) + seconds(s) - *zone;
}

std::string FormatIso8601(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<Credentials> ParseJsonCredentials(std::string_view body, const std::string& source) {
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) {
    return Status(Code::kInternal, source + ": the credentials answer is not a JSON object");
  }
  auto text = [&doc](const char* key) -> std::string {
    auto it = doc.find(key);
    return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::string code = text("Code");
  if (!code.empty() && code != "Success") {
    return Status(Code::kAccessDenied, source + ": credentials answer has Code " + code);
  }
  Credentials c;
  c.access_key_id = text("AccessKeyId");
  c.secret_access_key = text("SecretAccessKey");
  c.session_token = text("Token");
  c.source = source;
  if (c.access_key_id.empty() || c.secret_access_key.empty()) {
    return Status(Code::kInternal,
                  source + ": the credentials answer lacks AccessKeyId or SecretAccessKey");
  }
  std::string expiration = text("Expiration");
  if (!expiration.empty()) {
    c.expiration = ParseIso8601(expiration);
    if (!c.expiration) {
      return Status(Code::kInternal, source + ": cannot parse Expiration \"" + expiration + "\"");
    }
  }
  return c;
}

std::string TrimSpace(std::string_view s) {
  auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return std::string(s);
}

bool IsTrue(const std::optional<std::string>& value) {
  if (!value) return false;
  std::string v = TrimSpace(*value);
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  return v == "true";
}

}  // namespace s3m
