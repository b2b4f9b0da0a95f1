#include "fs/dir_listing.h"

#include <algorithm>

namespace s3m {

void ListingMerger::Add(std::string name, EntryKind kind, const ObjectInfo* info) {
  if (!IsValidName(name)) return;  // hidden: ".", "..", "", NUL, too long
  auto [it, inserted] = pending_.try_emplace(name);
  if (!inserted && it->second.kind == EntryKind::kDir) return;  // a directory shadows a file
  it->second.name = std::move(name);
  it->second.kind = kind;
  if (info != nullptr) it->second.info = *info;
}

void ListingMerger::AddPage(const ListObjectsResult& page, bool last) {
  for (const ObjectInfo& o : page.objects) {
    if (o.key.size() <= dir_key_.size()) continue;  // the directory's own marker "dir/"
    std::string rel = o.key.substr(dir_key_.size());
    passed_ = std::max(passed_, rel);
    Add(std::move(rel), EntryKind::kFile, &o);
  }
  for (const std::string& p : page.common_prefixes) {
    if (p.size() <= dir_key_.size()) continue;
    std::string rel = p.substr(dir_key_.size());
    passed_ = std::max(passed_, rel);
    rel.pop_back();  // the delimiter
    Add(std::move(rel), EntryKind::kDir, nullptr);
  }
  if (last) complete_ = true;
}

bool ListingMerger::Ready(const std::string& name) const {
  if (complete_) return true;
  // A later page can only hold keys above passed_. Such a key is a name that sorts at or
  // before `name` only if it is the directory p + "/" for a prefix p of `name`.
  std::string probe;
  probe.reserve(name.size() + 1);
  for (size_t i = 1; i <= name.size(); ++i) {
    probe.assign(name, 0, i);
    probe += '/';
    if (probe > passed_) return false;
  }
  return true;
}

std::vector<ListedEntry> ListingMerger::TakeReady() {
  std::vector<ListedEntry> out;
  while (!pending_.empty() && Ready(pending_.begin()->first)) {
    out.push_back(std::move(pending_.begin()->second));
    pending_.erase(pending_.begin());
  }
  return out;
}

}  // namespace s3m
