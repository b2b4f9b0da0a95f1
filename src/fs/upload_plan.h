// PlanUpload: how a staged file becomes its new object. The bytes of the new version are
// either unchanged bytes of the old version ("clean": below `base_end` and not written
// locally) or new ones (written locally, or past `base_end`, where a truncation cut the
// old bytes off). Long clean runs become UploadPartCopy parts, copied by the server;
// everything else is uploaded. So appending 1 MiB to a 1 GiB object uploads one part and
// copies the rest.
//
// S3's rules shape the plan: every part but the last is at least kMinPartSize (an upload
// part too short borrows bytes from the copy part after it, or absorbs it), parts are at
// most kMaxPartSize, and there are at most kMaxParts of them.
// Pure function; thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "fs/extent_set.h"

namespace s3m {

// Long runs are copied in parts of 256-512 MiB, which the server copies in parallel: one
// 1 GiB part copied slower than s3fs's parallel copies on RGW (docs/BENCHMARKS.md).
inline constexpr uint64_t kCopyPartBytes = 256ull << 20;

struct PlannedPart {
  uint64_t start = 0;
  uint64_t end = 0;   // exclusive
  bool copy = false;  // copied from the old version, else uploaded from local data
};

// `size`: the new object's size; `base_end`: old bytes below it stand unless written
// (0: nothing can be copied); `written`: the locally written ranges; `part_size`: the
// upload part size (at least kMinPartSize), grown if the object needs more parts.
// An empty object gives no parts.
std::vector<PlannedPart> PlanUpload(uint64_t size, uint64_t base_end, const ExtentSet& written,
                                    uint64_t part_size);

}  // namespace s3m
