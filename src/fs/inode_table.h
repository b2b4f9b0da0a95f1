// InodeTable: the inodes the kernel knows, by number and by (parent, name), with their
// cached attributes, exact kernel lookup counts, and a negative-lookup cache.
//
// An inode is stable per (parent, name, kind): when a name changes kind (file <-> dir) a
// new inode takes the name and the old one lives on, nameless, until the kernel forgets
// it. The same happens when a file's object changes (new ETag) while it is open, so that
// the files open on the old version keep a page cache of their own. A remote inode goes
// when its lookup count reaches zero with no open handle; local inodes (a directory made
// by mkdir, a file being written) stay until rmdir or upload.
// Inodes created by listings (lookup count 0) are swept once expired and unreferenced; a
// forgotten inode stays until it expires, so that it keeps answering for its name.
//
// Known ranges: after a complete listing of a directory (or its mkdir, or a bulk refresh
// of part of it), the names in the listed range are all in the table until the range
// expires: a name of the range that is not here does not exist, and a whole range is the
// directory listing cache (metadata_policy.h says how lookups use them).
//
// Thread-safety: all methods are thread-safe. Lock order: InodeTable::mu_ before
// Inode::mu; callers may hold a handle's mutex before either, never the reverse. No
// method calls out (client, callbacks) while holding a lock.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "fs/file_system.h"
#include "fs/key_names.h"

namespace s3m {

enum class Locality {
  kRemote,    // mirrors S3; attributes valid until `expiry`
  kLocalDir,  // made by mkdir, not yet implied by any key
  kWriting,   // a file with an open writer; not visible in S3 until its upload completes
};

struct InodeState {
  uint64_t size = 0;
  int64_t mtime_sec = 0;
  int32_t mtime_nsec = 0;
  std::string etag;
  MonoTime expiry{};  // remote attributes are fresh before this
  Locality where = Locality::kRemote;
  uint64_t lookups = 0;  // references held by the kernel
  uint32_t open_handles = 0;
  // The object's user metadata (posix_meta.h), once a HEAD or our own write told it; a
  // file being written (or a local directory) holds here what its commit will store.
  // Under --posix, `meta_expiry` says when to ask again (the metadata TTL).
  Metadata meta;
  bool meta_known = false;
  MonoTime meta_expiry{};
  bool mtime_explicit = false;  // utimes on a file being written: its commit keeps it
  std::string link_target;      // a symlink's target, once read (readlink)
  // The version whose pages the kernel may still cache for this inode: a read open of the
  // same ETag keeps them (FOPEN_KEEP_CACHE); any other open drops them. Empty once a
  // writer took the inode, whose pages may hold bytes never stored.
  std::string pages_etag;
};

// Whether two ETags name the same version. Compared without surrounding quotes: listings
// (XML) and headers carry them alike on S3, not on every S3-compatible server, and a
// difference in form alone must not look like a new version.
inline bool SameEtag(std::string_view a, std::string_view b) {
  auto bare = [](std::string_view e) {
    if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
    return e;
  };
  return bare(a) == bare(b);
}

// Whether a file with open handles on the version in `st` now has a new version `etag`.
// The kernel keeps one page cache per inode, so the new version must not open on this
// inode: the files reading the old one would read pages of the new (two versions in one).
inline bool ChangedWhileOpen(const InodeState& st, std::string_view etag) {
  return st.where == Locality::kRemote && st.open_handles > 0 && !st.etag.empty() &&
         !SameEtag(etag, st.etag);
}

class Inode {
 public:
  Inode(InodeId ino, InodeId parent, std::string name, EntryKind kind, std::string key)
      : ino(ino), parent(parent), name(std::move(name)), kind(kind), key(std::move(key)) {}

  const InodeId ino;
  const InodeId parent;
  const std::string name;
  const EntryKind kind;
  // A file's object key, or a directory's key prefix ending in '/' (root: the mount prefix).
  const std::string key;

  bool is_dir() const { return kind == EntryKind::kDir; }
  // The key of the directory holding this inode.
  std::string parent_key() const {
    return key.substr(0, key.size() - name.size() - (is_dir() ? 1 : 0));
  }
  InodeState Snapshot() const {
    std::lock_guard l(mu);
    return st;
  }
  // Copies S3's attributes (`info` null for a directory) and sets the expiry. A new
  // version (another ETag) has metadata and a body of its own: both are forgotten.
  static void ApplyRemote(InodeState& s, const ObjectInfo* info, MonoTime expiry) {
    if (info != nullptr) {
      if (!SameEtag(info->etag, s.etag)) {
        s.meta_known = false;
        s.meta.clear();
        s.link_target.clear();
      }
      s.size = info->size;
      s.etag = info->etag;
      s.mtime_sec = info->last_modified;
      s.mtime_nsec = info->last_modified_nsec;
    }
    s.expiry = expiry;
  }
  // Local inodes are always fresh; remote ones until their expiry.
  static bool Fresh(const InodeState& s, MonoTime now) {
    return s.where != Locality::kRemote || now < s.expiry;
  }
  // Whether the metadata need not be asked for again (local inodes hold their own).
  static bool MetaFresh(const InodeState& s, MonoTime now) {
    return s.where != Locality::kRemote || (s.meta_known && now < s.meta_expiry);
  }
  // Records the metadata a HEAD returned (or a write stored); local inodes keep theirs.
  static void ApplyMeta(InodeState& s, const Metadata& meta, MonoTime expiry) {
    if (s.where != Locality::kRemote) return;
    s.meta = meta;
    s.meta_known = true;
    s.meta_expiry = expiry;
  }

  mutable std::mutex mu;
  InodeState st;  // GUARDED_BY(mu)
};

class InodeTable {
 public:
  InodeTable(std::string root_key, Clock* clock);

  std::shared_ptr<Inode> Get(InodeId ino) const;
  std::shared_ptr<Inode> Find(InodeId parent, const std::string& name) const;

  // Records what S3 says about `name` in `parent` (from a lookup or a listing) and returns
  // the inode now holding the name: the existing one when the kind matches (its remote
  // attributes refreshed from `info`, null for a directory), a new one when the kind
  // changed. A local inode of the other kind keeps the name (local state wins).
  std::shared_ptr<Inode> Upsert(const Inode& parent, const std::string& name, EntryKind kind,
                                const ObjectInfo* info, MonoTime expiry, bool add_lookup);
  // Creates a local inode (mkdir, create) with one kernel lookup and the given handles;
  // null if the name is taken.
  std::shared_ptr<Inode> InsertLocal(const Inode& parent, const std::string& name, EntryKind kind,
                                     Locality where, uint32_t open_handles);
  // Drops the name (not found remotely, unlinked, removed). With `keep_local`, a local
  // inode keeps it. With `expected`, only if the name still points at that inode. Unless
  // the name is `gone` from S3 (it may only need a new inode), the directory's known range
  // goes too: the name must be asked for again, not taken as missing.
  void RemoveName(InodeId parent, const std::string& name, const Inode* expected, bool keep_local,
                  bool gone = false);
  // Gives inode `ino` (and, for a directory, every inode below it) its new name and key:
  // each is replaced by a copy with the same number and state, since the kernel moves its
  // entry to the new name and keeps using the number. An inode that had the new name loses
  // it. Returns the replaced inodes, old and new (for their open handles).
  std::vector<std::pair<std::shared_ptr<Inode>, std::shared_ptr<Inode>>> Rename(
      InodeId ino, const Inode& new_parent, const std::string& new_name);
  // Turns local ancestor directories of `inode` remote (a key now implies them).
  void MarkAncestorsRemote(const Inode& inode, MonoTime expiry);

  bool AddLookup(InodeId ino);
  void Forget(InodeId ino, uint64_t n);
  // Returns one open handle of `inode`, removing the inode if nothing else holds it.
  void CloseHandle(const std::shared_ptr<Inode>& inode);

  std::vector<std::shared_ptr<Inode>> LocalChildren(InodeId parent) const;
  // Every named child of `parent`, sorted by name (a directory served from the cache).
  std::vector<std::shared_ptr<Inode>> Children(InodeId parent) const;
  // Named children with `after` < name (and name <= *upto when given).
  std::vector<std::shared_ptr<Inode>> ChildrenInRange(InodeId parent, const std::string& after,
                                                      const std::optional<std::string>& upto) const;

  // Records that the names of `dir` in (`after`, `upto`] (no `upto`: to the end; `whole`:
  // every name) are all in the table until `until`. A whole range marks the directory as
  // listed for good (Listed), which makes its expired names refresh in bulk.
  void SetKnownRange(InodeId dir, const std::string& after, std::optional<std::string> upto,
                     bool whole, MonoTime until);
  // Whether `name` is in a fresh known range of `dir` and not in the table: it does not exist.
  bool KnownAbsent(InodeId dir, const std::string& name, MonoTime now) const;
  // Whether a whole listing of `dir` is fresh (the table holds all of it).
  bool ListingFresh(InodeId dir, MonoTime now) const;
  bool Listed(InodeId dir) const;

  void AddNegative(InodeId parent, const std::string& name, MonoTime expiry);
  bool IsNegative(InodeId parent, const std::string& name, MonoTime now);
  void ClearNegative(InodeId parent, const std::string& name);

  size_t size() const;
  // The most unreferenced inodes the table keeps, whatever their expiry (a bound on memory:
  // docs/SEMANTICS.md, "Metadata cache"). Tests may lower it.
  void set_max_unreferenced(size_t n);

 private:
  struct KnownRange {
    std::string after;
    std::optional<std::string> upto;
    bool whole = false;
    MonoTime until{};
    bool listed = false;  // a whole listing happened once
  };
  using NameKey = std::pair<InodeId, std::string>;
  // Both require mu_ and the inode's mu.
  bool Unused(const Inode& inode) const;
  void DropLocked(const Inode& inode);
  void MaybeSweepLocked();
  // A named child of `parent` left the table: its known range no longer holds.
  void ForgetRangeLocked(InodeId parent);
  // Requires mu_ and no inode's mu (its sweep takes them).
  std::shared_ptr<Inode> InsertRemoteLocked(const Inode& parent, const std::string& name,
                                            EntryKind kind, const ObjectInfo* info, MonoTime expiry,
                                            bool add_lookup);

  Clock* const clock_;
  mutable std::mutex mu_;
  InodeId next_ino_ = kRootInode + 1;                           // GUARDED_BY(mu_)
  std::unordered_map<InodeId, std::shared_ptr<Inode>> by_ino_;  // GUARDED_BY(mu_)
  std::map<NameKey, InodeId> by_name_;                          // GUARDED_BY(mu_)
  std::map<NameKey, MonoTime> negative_;                        // GUARDED_BY(mu_)
  std::unordered_map<InodeId, KnownRange> ranges_;              // GUARDED_BY(mu_)
  size_t sweep_at_;                                             // GUARDED_BY(mu_)
  size_t max_unreferenced_;                                     // GUARDED_BY(mu_)
};

}  // namespace s3m
