// Parsing shared by the credential providers: ISO-8601 timestamps, the JSON credential
// documents of IMDS and the container endpoint, and small string helpers. Pure
// functions; any thread.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "s3/credentials.h"

namespace s3m {

// "2026-11-24T12:00:00Z", optionally with fractional seconds and a "+hh:mm" offset.
std::optional<std::chrono::system_clock::time_point> ParseIso8601(std::string_view text);

// "2026-11-24T12:00:00Z".
std::string FormatIso8601(std::chrono::system_clock::time_point t);

// {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"} as IMDS and the container
// endpoint return them. Errors never quote the document (it holds secrets).
Result<Credentials> ParseJsonCredentials(std::string_view body, const std::string& source);

std::string TrimSpace(std::string_view s);

// Case-insensitive "true".
bool IsTrue(const std::optional<std::string>& value);

}  // namespace s3m
