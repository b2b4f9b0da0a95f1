// ExtentSet: a set of disjoint byte ranges [start, end), merged as they are added: the
// ranges of a staged file that were written locally. Not thread-safe: its owner locks.
#pragma once

#include <cstdint>
#include <functional>
#include <map>

namespace s3m {

class ExtentSet {
 public:
  void Add(uint64_t start, uint64_t end);
  // Drops every byte at or past `end` (truncation).
  void ClipTo(uint64_t end);
  void Clear() { ranges_.clear(); }
  bool empty() const { return ranges_.empty(); }
  uint64_t bytes() const;
  // Whether any byte of [start, end) is in the set.
  bool Overlaps(uint64_t start, uint64_t end) const;
  // Calls fn(s, e) for each piece of the set within [start, end), in order.
  void ForEachIn(uint64_t start, uint64_t end,
                 const std::function<void(uint64_t, uint64_t)>& fn) const;

 private:
  std::map<uint64_t, uint64_t> ranges_;  // start -> end
};

}  // namespace s3m
