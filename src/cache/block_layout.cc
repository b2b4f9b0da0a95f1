#include "cache/block_layout.h"

namespace s3m::block_layout {
namespace {
constexpr char kHex[] = "0123456789abcdef";
}  // namespace

std::optional<Digest> DigestOf(std::string_view version) {
  if (version.size() != 64) return std::nullopt;
  Digest d{};
  for (size_t i = 0; i < 64; ++i) {
    const char c = version[i];
    uint64_t nibble = 0;
    if (c >= '0' && c <= '9') {
      nibble = static_cast<uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      nibble = static_cast<uint64_t>(c - 'a' + 10);
    } else {
      return std::nullopt;
    }
    d[i / 16] = d[i / 16] << 4 | nibble;
  }
  return d;
}

std::string VersionHex(const Digest& d) {
  std::string hex(64, '0');
  for (size_t i = 0; i < 64; ++i) hex[i] = kHex[(d[i / 16] >> (60 - 4 * (i % 16))) & 15];
  return hex;
}

std::optional<Key> KeyOf(std::string_view version, uint64_t index) {
  // A random reader names the same version again and again: each thread remembers its last.
  thread_local std::string last;
  thread_local std::optional<Digest> last_digest;
  if (version != last) {
    last_digest = DigestOf(version);
    last = version;
  }
  const std::optional<Digest>& d = last_digest;
  if (!d || index >= (1ull << 30)) return std::nullopt;
  return Key{*d, index};
}

std::string FileOf(const Digest& d) {
  std::string hex = VersionHex(d);
  return hex.substr(0, 2) + "/" + hex;
}

std::optional<Digest> DigestOfName(std::string_view name) {
  if (name.size() != 3 + 64 || name[2] != '/' || name.substr(0, 2) != name.substr(3, 2)) {
    return std::nullopt;
  }
  return DigestOf(name.substr(3));
}

}  // namespace s3m::block_layout
