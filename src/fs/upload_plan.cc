#include "fs/upload_plan.h"

#include <algorithm>

#include "fs/object_writer.h"

namespace s3m {
namespace {

// Splits [start, end) into parts of about `size` bytes, none below it unless the range is.
void Split(uint64_t start, uint64_t end, uint64_t size, bool copy, std::vector<PlannedPart>* out) {
  uint64_t len = end - start;
  uint64_t n = std::max<uint64_t>(1, len / size);
  for (uint64_t i = 0; i < n; i++) {
    uint64_t s = start + len * i / n;
    uint64_t e = start + len * (i + 1) / n;
    out->push_back({s, e, copy});
  }
}

// The clean runs worth a copy: [0, base_end) less the written ranges, at least `min_run`.
std::vector<PlannedPart> CleanRuns(uint64_t base_end, const ExtentSet& written, uint64_t min_run) {
  std::vector<PlannedPart> runs;
  uint64_t pos = 0;
  auto add = [&runs, min_run](uint64_t s, uint64_t e) {
    if (e - s >= min_run) runs.push_back({s, e, true});
  };
  written.ForEachIn(0, base_end, [&](uint64_t s, uint64_t e) {
    if (s > pos) add(pos, s);
    pos = e;
  });
  if (base_end > pos) add(pos, base_end);
  return runs;
}

std::vector<PlannedPart> Plan(uint64_t size, uint64_t base_end, const ExtentSet& written,
                              uint64_t part_size, uint64_t min_run) {
  std::vector<PlannedPart> parts;
  uint64_t pending = 0;  // start of the bytes not yet in a part, all to upload
  for (PlannedPart run : CleanRuns(base_end, written, min_run)) {
    uint64_t upload = run.start - pending;
    if (upload > 0 && upload < kMinPartSize) {
      uint64_t need = kMinPartSize - upload;
      if (run.end - run.start - need < kMinPartSize) continue;  // absorbed into the upload
      run.start += need;
    }
    if (run.start > pending) Split(pending, run.start, part_size, false, &parts);
    Split(run.start, run.end, std::max(part_size, kCopyPartBytes), true, &parts);
    pending = run.end;
  }
  if (size > pending) Split(pending, size, part_size, false, &parts);
  return parts;
}

}  // namespace

std::vector<PlannedPart> PlanUpload(uint64_t size, uint64_t base_end, const ExtentSet& written,
                                    uint64_t part_size) {
  if (size == 0) return {};
  base_end = std::min(base_end, size);
  // Upload parts of at least size / (kMaxParts / 2) leave half of S3's count to copies;
  // when scattered writes cut the old bytes into more runs than that, only longer runs
  // are copied (the others are uploaded) until the plan fits.
  part_size = std::max({part_size, kMinPartSize, size / (kMaxParts / 2) + 1});
  for (uint64_t min_run = kMinPartSize;; min_run *= 2) {
    std::vector<PlannedPart> parts = Plan(size, base_end, written, part_size, min_run);
    if (parts.size() <= static_cast<size_t>(kMaxParts)) return parts;
  }
}

}  // namespace s3m
