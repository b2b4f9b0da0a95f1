#include "fs/key_names.h"

namespace s3m {

NameCheck CheckName(std::string_view name) {
  if (name.empty() || name == "." || name == "..") return NameCheck::kInvalid;
  if (name.find('/') != std::string_view::npos) return NameCheck::kInvalid;
  if (name.find('\0') != std::string_view::npos) return NameCheck::kInvalid;
  if (name.size() > kMaxNameBytes) return NameCheck::kTooLong;
  return NameCheck::kOk;
}

std::string ChildKey(const std::string& dir_key, const std::string& name, EntryKind kind) {
  std::string key = dir_key + name;
  if (kind == EntryKind::kDir) key += '/';
  return key;
}

MonoTime ExpiryAfter(MonoTime now, std::chrono::nanoseconds ttl) {
  if (ttl <= std::chrono::nanoseconds::zero()) return now;
  if (ttl >= MonoTime::max() - now) return MonoTime::max();
  return now + ttl;
}

}  // namespace s3m
