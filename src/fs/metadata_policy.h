// The metadata policy: what a lookup of a name costs, decided in one place from what the
// inode table knows (docs/SEMANTICS.md, "Metadata cache", points here).
//
//   cached and fresh (the metadata TTL)            -> no request
//   not cached, and a fresh negative entry, or a
//   fresh known range of its directory lacks it    -> "no such name", no request
//   the directory was listed whole once            -> one LIST from the name on (start-after),
//                                                     refreshing up to 1,000 names at once
//   a file known by its ETag                       -> one HEAD; the same ETag keeps the inode
//                                                     and its attributes
//   anything else (unknown names, directories)     -> one LIST (prefix name, delimiter /)
//
// A HEAD does not see a directory created elsewhere under a cached file's name (keys
// "name/..."): that shows once the file changes or goes, or the directory is listed.
// Under --posix (metadata comes from HEADs) names are never refreshed in bulk.
//
// Pure functions: callable from any thread.
#pragma once

#include <string>

#include "fs/inode_table.h"

namespace s3m {

enum class MetaPlan {
  kCached,      // answer from the table
  kAbsent,      // answer "no such name"
  kRefreshDir,  // one LIST of the directory from the name on, then ask again
  kHead,        // HEAD the file's key
  kList,        // a lookup LIST of the name
};

struct LookupFacts {
  const InodeState* cached = nullptr;  // the inode holding the name, if any
  EntryKind kind = EntryKind::kFile;   // its kind
  bool negative = false;               // a fresh negative entry
  bool known_absent = false;           // a fresh known range of the directory lacks it
  bool parent_listed = false;          // the directory was listed whole once
  bool posix = false;
  bool ttl_positive = true;  // both TTLs above zero: what a refresh learns lasts a moment
  MonoTime now{};
};

MetaPlan PlanLookup(const LookupFacts& f);

// Where a bulk refresh that must return `name` starts, relative to the directory:
// `name` minus its last character (start-after is exclusive, and the key `name` must come
// back). A whole UTF-8 character is dropped, so the parameter stays valid UTF-8.
std::string RefreshStartAfter(const std::string& name);

}  // namespace s3m
