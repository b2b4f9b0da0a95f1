#include "fs/metadata_policy.h"

namespace s3m {

MetaPlan PlanLookup(const LookupFacts& f) {
  if (f.cached != nullptr) {
    const InodeState& s = *f.cached;
    if (Inode::Fresh(s, f.now) && (!f.posix || Inode::MetaFresh(s, f.now))) {
      return MetaPlan::kCached;
    }
  } else if (f.negative || f.known_absent) {
    return MetaPlan::kAbsent;
  }
  if (f.parent_listed && !f.posix && f.ttl_positive) return MetaPlan::kRefreshDir;
  if (f.cached != nullptr && f.kind == EntryKind::kFile && f.cached->where == Locality::kRemote &&
      !f.cached->etag.empty()) {
    return MetaPlan::kHead;
  }
  return MetaPlan::kList;
}

std::string RefreshStartAfter(const std::string& name) {
  size_t end = name.size();
  while (end > 0 && (static_cast<unsigned char>(name[end - 1]) & 0xC0) == 0x80) end--;
  return name.substr(0, end > 0 ? end - 1 : 0);
}

}  // namespace s3m
