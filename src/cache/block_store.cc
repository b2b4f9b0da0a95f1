#include "cache/block_store.h"

#include <fmt/format.h>

#include <string_view>

#include "s3/sigv4.h"

namespace s3m {

std::string ObjectVersionId(const std::string& source, const std::string& key,
                            const std::string& etag) {
  std::string_view e = etag;
  if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
  std::string id = fmt::format("{}\n{}\n{}", source, key, e);
  return Sha256Hex(id.data(), id.size());
}

}  // namespace s3m
