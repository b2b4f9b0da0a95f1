// FileSystem::Impl: the state shared by the parts of the file system core, which are
// split by responsibility: file_system.cc (lookup, attributes, inode references),
// file_system_dir.cc (directory handles, readdir, mkdir, rmdir), file_system_file.cc
// (open, create, the file handle table, unlink). Each open file is a FileHandle
// (file_handle.h) that owns its reader or upload.
//
// Thread-safety and lock order (outermost first; never skip backwards):
//   DirHandle::mu / a FileHandle's locks -> InodeTable::mu_ -> Inode::mu
//   Impl::handles_mu and Impl::refresh_mu are taken alone.
// No lock is held while calling the ObjectClient, a FileHandle method, or a caller's
// callback.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "fs/dir_listing.h"
#include "fs/file_handle.h"
#include "fs/file_system.h"
#include "fs/fs_core.h"
#include "fs/inode_table.h"

namespace s3m {

// What a HEAD + LIST pair says about one name.
struct RemoteEntry {
  bool found = false;
  EntryKind kind = EntryKind::kFile;
  ObjectInfo info;          // for files; under --posix, a directory's marker metadata too
  bool meta_known = false;  // info.metadata is what S3 holds (a HEAD answered)
};

struct DirHandle {
  struct Waiter {
    uint64_t offset;
    size_t max_entries;
    Callback<std::vector<DirEntry>> done;
  };
  explicit DirHandle(std::shared_ptr<Inode> d) : dir(d), merger(d->key) {}

  const std::shared_ptr<Inode> dir;
  std::mutex mu;
  std::vector<DirEntry> entries;             // GUARDED_BY(mu); offset i+1 follows entries[i]
  std::vector<std::shared_ptr<Inode>> pins;  // GUARDED_BY(mu); keeps listed inodes alive
  ListingMerger merger;                      // GUARDED_BY(mu)
  std::map<std::string, std::shared_ptr<Inode>> locals;  // GUARDED_BY(mu); not yet listed
  std::string token;                                     // GUARDED_BY(mu)
  bool listing_done = false;                             // GUARDED_BY(mu)
  bool fetching = false;                                 // GUARDED_BY(mu)
  // When the listing began: names not refreshed since `asked` and not listed are gone;
  // a complete listing is the directory's listing cache until `until`.
  MonoTime asked{};             // GUARDED_BY(mu)
  MonoTime until{};             // GUARDED_BY(mu)
  std::vector<Waiter> waiters;  // GUARDED_BY(mu)
};

struct DirMove;  // a directory rename in progress (file_system_rename.cc)

struct FileSystem::Impl : FsCore {
  Impl(ObjectClient* client, BufferPool* pool, FsOptions options);

  // --- file_system.cc ---
  Attr MakeAttr(const Inode& inode, const InodeState& s) const;
  Attr MakeAttr(const Inode& inode) const { return MakeAttr(inode, inode.Snapshot()); }
  std::chrono::nanoseconds EntryTtl(const InodeState& s) const;
  // What S3 holds under `name`: a LIST, and under --posix a HEAD of what it found.
  void RemoteLookup(const std::string& parent_key, const std::string& name,
                    Callback<RemoteEntry> done);
  void ListLookup(const std::string& key, Callback<RemoteEntry> done);
  // Under --posix: the metadata of a file (HEAD key) or of a directory (its marker).
  void HeadMeta(const std::string& key, RemoteEntry e, Callback<RemoteEntry> done);
  // Puts a HEAD's answer into `e` (a 404 of a directory's marker: no metadata).
  void ApplyHead(Result<ObjectInfo> r, RemoteEntry& e, const Callback<RemoteEntry>& done);
  void RecordMeta(const std::shared_ptr<Inode>& inode, const Metadata& meta);

  // --- file_system_posix.cc (--posix) ---
  // A new file, directory or symlink's metadata: `mode` (as stored), mtime now, and the
  // owner when the caller is known.
  void InitMeta(const std::shared_ptr<Inode>& inode, uint32_t mode,
                const std::optional<Owner>& owner);
  Metadata NewMeta(uint32_t mode, const std::optional<Owner>& owner) const;
  // chmod, chown, utimes: stored with the writer open on the file, or on the object.
  void ChangeMeta(std::shared_ptr<Inode> inode, const Attr& want, unsigned to_set,
                  Callback<Attr> done);
  void StoreMeta(std::shared_ptr<Inode> inode, const Attr& want, unsigned to_set,
                 Callback<Attr> done);
  // Under --posix, HEADs the listed entries whose metadata is not fresh (files, and the
  // markers of directories), kListHeadsInFlight at a time, before they are returned.
  void HeadListed(const Inode& dir, std::vector<ListedEntry> listed,
                  Callback<std::vector<ListedEntry>> done);
  // --- file_system_meta.cc (the metadata policy: metadata_policy.h) ---
  // The inode for `name` in `parent`: from the cache when fresh, else from S3 (recording
  // the answer, positive or negative). Adds a kernel lookup when `count`.
  void Resolve(std::shared_ptr<Inode> parent, const std::string& name, bool count,
               Callback<std::shared_ptr<Inode>> done);
  void ResolveRound(std::shared_ptr<Inode> parent, const std::string& name, bool count,
                    int refreshes, Callback<std::shared_ptr<Inode>> done);
  void ListResolve(std::shared_ptr<Inode> parent, const std::string& name, bool count,
                   Callback<std::shared_ptr<Inode>> done);
  void HeadResolve(std::shared_ptr<Inode> parent, const std::string& name,
                   std::shared_ptr<Inode> cached, std::string etag, bool count,
                   Callback<std::shared_ptr<Inode>> done);
  // A HEAD of a file's key as a RemoteEntry (not found: found = false).
  void HeadRemote(const std::string& key, Callback<RemoteEntry> done);
  // One LIST of `dir` from `name` on refreshes the names it returns (bulk refresh).
  void RefreshNames(std::shared_ptr<Inode> dir, const std::string& name, Callback<Empty> done);
  void ApplyRefresh(const Inode& dir, const std::string& after, const ListObjectsResult& page,
                    MonoTime asked, MonoTime until);
  // Drops the remote names of `dir` in (after, upto] missing from `seen`, unless refreshed
  // since `asked`.
  void ForgetUnlisted(const Inode& dir, const std::string& after,
                      const std::optional<std::string>& upto, const std::set<std::string>& seen,
                      MonoTime asked);
  // A complete listing: the table now holds the directory (requires h.mu).
  void FinishListing(DirHandle& h);
  // Fills `h` from the table when a listing of its directory is fresh (requires h.mu).
  bool ServeCachedListing(DirHandle& h);
  // Until when a range of names just listed answers for missing names.
  MonoTime KnownRangeUntil() const;
  // This mount removed `name`: a negative entry, so that nothing asks S3 about it.
  void KnowGone(InodeId parent, const std::string& name);
  Status CheckDir(const std::shared_ptr<Inode>& dir, InodeId ino) const;
  Status CheckNewName(const std::string& name) const;

  // --- file_system_dir.cc ---
  void PumpDir(const std::shared_ptr<DirHandle>& h);
  void FetchPage(const std::shared_ptr<DirHandle>& h);
  // Appends a page's final entries (and at the `last`, the local ones), then answers.
  void AddPage(const std::shared_ptr<DirHandle>& h, std::vector<ListedEntry> ready, bool last);
  void AppendListed(DirHandle& h, std::vector<ListedEntry> listed);  // requires h.mu
  void AppendInode(DirHandle& h, std::shared_ptr<Inode> inode);      // requires h.mu

  // --- file_system_file.cc ---
  // The version a file opens on: from the fresh cache, else a HEAD.
  void CurrentVersion(std::shared_ptr<Inode> inode, Callback<ObjectInfo> done);
  void OpenForRead(std::shared_ptr<Inode> inode, Callback<OpenResult> done);
  void OpenForWrite(std::shared_ptr<Inode> inode, int flags, Callback<OpenResult> done);
  bool ClaimForWriting(const std::shared_ptr<Inode>& inode, bool truncate, Status* why);
  Status RetryOnNewInode(const Inode& inode);
  uint64_t AddFileHandle(std::shared_ptr<FileHandle> h);
  std::shared_ptr<FileHandle> GetFileHandle(uint64_t handle, InodeId ino);
  // Takes the handle out of the table: nullptr if it is not there for `ino`.
  std::shared_ptr<FileHandle> TakeFileHandle(uint64_t handle, InodeId ino);
  // Sets a file's size: through `handle` (or the writer open on it), else by an open,
  // truncate and commit of its own.
  void Truncate(std::shared_ptr<Inode> inode, uint64_t size, uint64_t handle, Callback<Empty> done);
  std::shared_ptr<FileHandle> WriterOf(const Inode& inode);
  void ReleaseHandle(InodeId ino, uint64_t handle, Callback<Empty> done);
  // --- file_system_rename.cc ---
  Status CheckRename(const Inode& src, const std::string& new_parent_key, const Inode* target,
                     bool noreplace) const;
  void SettleWriters(const std::string& key_prefix, bool whole_prefix, Callback<Empty> then);
  void CopyKey(const ObjectInfo& from, const std::string& to, Callback<std::string> done);
  void CopyLarge(const ObjectInfo& from, const std::string& to, Callback<std::string> done);
  void RenameFile(std::shared_ptr<Inode> src, std::shared_ptr<Inode> ndir,
                  const std::string& new_name, Callback<Empty> done);
  void ApplyRename(const Inode& src, const Inode& ndir, const std::string& new_name,
                   const std::map<std::string, std::string>& new_etags, const ObjectInfo* file);
  void RenameDir(std::shared_ptr<Inode> src, std::shared_ptr<Inode> ndir,
                 const std::string& new_name, std::shared_ptr<Inode> target, Callback<Empty> done);
  void CheckTargetDir(const std::string& from, const std::string& to, bool exists,
                      Callback<Empty> done);
  void ListForMove(std::shared_ptr<DirMove> m, std::string token, Callback<Empty> done);
  void StartDirMove(std::shared_ptr<DirMove> m, Callback<Empty> done);

  void RmdirRemote(InodeId parent, const std::string& name, std::shared_ptr<Inode> inode,
                   Callback<Empty> done);
  void ReapClosed();

  mutable std::mutex handles_mu;
  uint64_t next_handle = 1;                                         // GUARDED_BY(handles_mu)
  std::unordered_map<uint64_t, std::shared_ptr<FileHandle>> files;  // GUARDED_BY(handles_mu)
  std::unordered_map<uint64_t, std::shared_ptr<DirHandle>> dirs;    // GUARDED_BY(handles_mu)
  // Released handles still finishing (an upload), and finished ones to destroy on a
  // caller's thread (never inside their own upload's completion).
  std::unordered_map<uint64_t, std::shared_ptr<FileHandle>> closing;  // GUARDED_BY(handles_mu)
  std::vector<std::shared_ptr<FileHandle>> reap;                      // GUARDED_BY(handles_mu)
  // Bulk refreshes in flight, by directory, with the lookups waiting for each.
  std::mutex refresh_mu;
  std::unordered_map<InodeId, std::vector<Callback<Empty>>> refreshing;  // GUARDED_BY(refresh_mu)
};

}  // namespace s3m
