// PosixMeta: see posix_meta.h.
#include "fs/posix_meta.h"

#include <charconv>
#include <string>

namespace s3m {
namespace {

constexpr uint32_t kPermBits = 07777;
constexpr int kNsecDigits = 9;

template <typename T>
std::optional<T> ParseWhole(std::string_view s) {
  T v{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

template <typename T>
std::optional<T> Find(const Metadata& m, const char* name) {
  auto it = m.find(name);
  if (it == m.end()) return std::nullopt;
  return ParseWhole<T>(it->second);
}

// "1577836801" or "1577836801.25": whole seconds and nanoseconds.
void ParseMtime(const Metadata& m, PosixAttrs& a) {
  auto it = m.find(kMetaMtime);
  if (it == m.end()) return;
  std::string_view s = it->second;
  size_t dot = s.find('.');
  auto sec = ParseWhole<int64_t>(s.substr(0, dot));
  if (!sec) return;
  int32_t nsec = 0;
  if (dot != std::string_view::npos) {
    std::string_view frac = s.substr(dot + 1);
    if (frac.empty()) return;
    int digits = 0;
    for (char c : frac) {
      if (c < '0' || c > '9') return;
      if (digits++ < kNsecDigits) nsec = nsec * 10 + (c - '0');
    }
    for (; digits < kNsecDigits; digits++) nsec *= 10;
    if (*sec < 0) nsec = 0;  // negative fractional times are not worth the arithmetic
  }
  a.mtime_sec = sec;
  a.mtime_nsec = nsec;
}

}  // namespace

PosixAttrs ParsePosix(const Metadata& m) {
  PosixAttrs a;
  if (m.empty()) return a;
  a.mode = Find<uint32_t>(m, kMetaMode);
  a.uid = Find<uint32_t>(m, kMetaUid);
  a.gid = Find<uint32_t>(m, kMetaGid);
  ParseMtime(m, a);
  return a;
}

bool IsSymlink(const PosixAttrs& a) {
  return a.mode.has_value() && (*a.mode & S_IFMT) == S_IFLNK;
}

uint32_t FileModeOf(const PosixAttrs& a, uint32_t default_perm) {
  if (!a.mode) return S_IFREG | (default_perm & kPermBits);
  return (IsSymlink(a) ? S_IFLNK : S_IFREG) | (*a.mode & kPermBits);
}

uint32_t DirModeOf(const PosixAttrs& a, uint32_t default_perm) {
  return S_IFDIR | ((a.mode ? *a.mode : default_perm) & kPermBits);
}

void SetModeMeta(Metadata& m, uint32_t mode) {
  m[kMetaMode] = std::to_string(mode);
}
void SetUidMeta(Metadata& m, uint32_t uid) {
  m[kMetaUid] = std::to_string(uid);
}
void SetGidMeta(Metadata& m, uint32_t gid) {
  m[kMetaGid] = std::to_string(gid);
}
void SetMtimeMeta(Metadata& m, int64_t sec) {
  m[kMetaMtime] = std::to_string(sec);
}

}  // namespace s3m
