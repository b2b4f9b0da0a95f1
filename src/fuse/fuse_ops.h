// The table of FUSE low-level operations over a FileSystem (the session's userdata).
#pragma once

#include <chrono>

struct fuse_lowlevel_ops;

namespace s3m {

class DropBehind;
class FileSystem;
namespace metrics {
class FuseMetrics;
}

// The session's userdata. Immutable while mounted.
struct FuseContext {
  FileSystem* fs = nullptr;
  std::chrono::nanoseconds attr_ttl{0};
  std::chrono::nanoseconds negative_ttl{0};
  DropBehind* drop_behind = nullptr;        // null: keep the pages of buffered reads
  // Files up to this size keep their pages for the next open; larger ones drop behind.
  uint64_t keep_pages_bytes = 0;
  metrics::FuseMetrics* metrics = nullptr;  // null: count nothing
};

void FillFuseOps(fuse_lowlevel_ops* ops);
}  // namespace s3m
