// Key names: how S3 keys map to file names. A directory's key is its path under the
// mount's prefix followed by '/' (the root's key is the prefix itself); a file's key is
// its directory's key followed by its name.
//
// Names that cannot be file names are hidden: empty (from "//"), "." or "..", containing
// '/' or NUL; names longer than NAME_MAX are hidden in listings and refused by lookup.
// Pure functions; any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace s3m {

// Linux NAME_MAX: the longest name the kernel passes or accepts in a directory entry.
inline constexpr size_t kMaxNameBytes = 255;

enum class EntryKind { kFile, kDir };

enum class NameCheck { kOk, kInvalid, kTooLong };

NameCheck CheckName(std::string_view name);
inline bool IsValidName(std::string_view name) {
  return CheckName(name) == NameCheck::kOk;
}

// The key of `name` in the directory whose key is `dir_key`.
std::string ChildKey(const std::string& dir_key, const std::string& name, EntryKind kind);

using MonoTime = std::chrono::steady_clock::time_point;

// now + ttl, saturating (a ttl of nanoseconds::max() means "never expires").
MonoTime ExpiryAfter(MonoTime now, std::chrono::nanoseconds ttl);

}  // namespace s3m
