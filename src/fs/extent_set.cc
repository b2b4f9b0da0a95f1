#include "fs/extent_set.h"

#include <algorithm>

namespace s3m {

void ExtentSet::Add(uint64_t start, uint64_t end) {
  if (start >= end) return;
  // Merge with every range that touches or overlaps [start, end).
  auto it = ranges_.upper_bound(start);
  if (it != ranges_.begin() && std::prev(it)->second >= start) --it;
  while (it != ranges_.end() && it->first <= end) {
    start = std::min(start, it->first);
    end = std::max(end, it->second);
    it = ranges_.erase(it);
  }
  ranges_[start] = end;
}

void ExtentSet::ClipTo(uint64_t end) {
  auto it = ranges_.lower_bound(end);
  ranges_.erase(it, ranges_.end());
  if (!ranges_.empty() && ranges_.rbegin()->second > end) ranges_.rbegin()->second = end;
}

uint64_t ExtentSet::bytes() const {
  uint64_t n = 0;
  for (const auto& [s, e] : ranges_) n += e - s;
  return n;
}

bool ExtentSet::Overlaps(uint64_t start, uint64_t end) const {
  bool any = false;
  ForEachIn(start, end, [&any](uint64_t, uint64_t) { any = true; });
  return any;
}

void ExtentSet::ForEachIn(uint64_t start, uint64_t end,
                          const std::function<void(uint64_t, uint64_t)>& fn) const {
  if (start >= end) return;
  auto it = ranges_.upper_bound(start);
  if (it != ranges_.begin()) --it;
  for (; it != ranges_.end() && it->first < end; ++it) {
    uint64_t s = std::max(start, it->first);
    uint64_t e = std::min(end, it->second);
    if (s < e) fn(s, e);
  }
}

}  // namespace s3m
