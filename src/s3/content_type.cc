#include "s3/content_type.h"

#include <algorithm>
#include <cctype>
#include <string_view>
#include <unordered_map>

namespace s3m {
namespace {

// Extensions common in data, ML and web workloads (IANA types as browsers and the
// Debian mime-support package name them).
const std::unordered_map<std::string_view, std::string_view>& Table() {
  static const auto* table = new std::unordered_map<std::string_view, std::string_view>{
      {"txt", "text/plain"},
      {"log", "text/plain"},
      {"md", "text/markdown"},
      {"csv", "text/csv"},
      {"tsv", "text/tab-separated-values"},
      {"html", "text/html"},
      {"htm", "text/html"},
      {"css", "text/css"},
      {"js", "text/javascript"},
      {"mjs", "text/javascript"},
      {"xml", "application/xml"},
      {"json", "application/json"},
      {"jsonl", "application/jsonl"},
      {"ndjson", "application/x-ndjson"},
      {"yaml", "application/yaml"},
      {"yml", "application/yaml"},
      {"toml", "application/toml"},
      {"pdf", "application/pdf"},
      {"zip", "application/zip"},
      {"gz", "application/gzip"},
      {"tgz", "application/gzip"},
      {"bz2", "application/x-bzip2"},
      {"xz", "application/x-xz"},
      {"zst", "application/zstd"},
      {"tar", "application/x-tar"},
      {"7z", "application/x-7z-compressed"},
      {"parquet", "application/vnd.apache.parquet"},
      {"avro", "application/avro"},
      {"wasm", "application/wasm"},
      {"sh", "application/x-sh"},
      {"py", "text/x-python"},
      {"c", "text/x-c"},
      {"h", "text/x-c"},
      {"cc", "text/x-c++"},
      {"cpp", "text/x-c++"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"webp", "image/webp"},
      {"svg", "image/svg+xml"},
      {"tif", "image/tiff"},
      {"tiff", "image/tiff"},
      {"bmp", "image/bmp"},
      {"ico", "image/vnd.microsoft.icon"},
      {"mp3", "audio/mpeg"},
      {"wav", "audio/wav"},
      {"flac", "audio/flac"},
      {"ogg", "audio/ogg"},
      {"mp4", "video/mp4"},
      {"m4v", "video/mp4"},
      {"webm", "video/webm"},
      {"mov", "video/quicktime"},
      {"mkv", "video/x-matroska"},
      {"avi", "video/x-msvideo"},
      {"woff", "font/woff"},
      {"woff2", "font/woff2"},
      {"ttf", "font/ttf"},
      {"otf", "font/otf"},
  };
  return *table;
}

}  // namespace

std::string ContentTypeForKey(const std::string& key) {
  std::string_view name = key;
  if (auto slash = name.rfind('/'); slash != std::string_view::npos) name.remove_prefix(slash + 1);
  auto dot = name.rfind('.');
  // ".bashrc" is a name, not an extension.
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == name.size()) return "";
  std::string ext(name.substr(dot + 1));
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto it = Table().find(ext);
  return it == Table().end() ? "" : std::string(it->second);
}

}  // namespace s3m
