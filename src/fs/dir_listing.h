// ListingMerger: turns the pages of a ListObjectsV2 (delimiter '/') of one directory into
// directory entries sorted by name, with invalid names hidden and a name that is both an
// object and a common prefix shown once, as a directory.
//
// S3 sorts by key, not by name: the file "a" (key "a") comes before "a-b" and "a.txt",
// which come before the directory "a" (prefix "a/"), possibly pages later. So an entry is
// released only once no later page can hold a name that sorts before it or equals it:
// that is, when for every prefix p of its name, the key p + "/" has been passed. Entries
// wait in a sorted buffer until then.
//
// Not thread-safe: the owner (a directory handle) serializes calls.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "fs/key_names.h"
#include "s3/object_client.h"

namespace s3m {

struct ListedEntry {
  std::string name;
  EntryKind kind = EntryKind::kFile;
  ObjectInfo info;          // for files; --posix: a directory's marker metadata too
  bool meta_known = false;  // info.metadata came from a HEAD (--posix listings)
};

class ListingMerger {
 public:
  explicit ListingMerger(std::string dir_key) : dir_key_(std::move(dir_key)) {}

  // Adds the next page; `last` when the listing is complete (not truncated).
  void AddPage(const ListObjectsResult& page, bool last);
  // Removes and returns the entries that are final, in name order.
  std::vector<ListedEntry> TakeReady();
  // Entries received but not yet final.
  size_t pending() const { return pending_.size(); }

 private:
  bool Ready(const std::string& name) const;
  void Add(std::string name, EntryKind kind, const ObjectInfo* info);

  const std::string dir_key_;
  std::map<std::string, ListedEntry> pending_;
  std::string passed_;  // the greatest key seen, relative to dir_key_
  bool complete_ = false;
};

}  // namespace s3m
