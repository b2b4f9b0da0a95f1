// FileSystem::Impl: the state shared by the parts of the file system core, which are
// split by responsibility: file_system.cc (lookup, attributes, inode references),
// file_system_dir.cc (directory handles, readdir, mkdir, rmdir), file_system_file.cc
// (open, read, create, write, flush, release, unlink, uploads).
//
// Thread-safety and lock order (outermost first; never skip backwards):
//   DirHandle::mu / FileHandle::write_mu / FileHandle::mu
//     -> InodeTable::mu_ -> Inode::mu
//   Impl::handles_mu -> FileHandle::mu (Release, deciding whether an upload still runs);
//   otherwise Impl::handles_mu is taken alone.
// No lock is held while calling the ObjectClient, an ObjectReader/ObjectWriter method that
// may complete inline, or a caller's callback, with one documented exception:
// FileHandle::write_mu is held across ObjectWriter::Write, which may wait for memory, to
// serialize writes as the writer requires.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "fs/dir_listing.h"
#include "fs/file_system.h"
#include "fs/inode_table.h"

namespace s3m {

// What a HEAD + LIST pair says about one name.
struct RemoteEntry {
  bool found = false;
  EntryKind kind = EntryKind::kFile;
  ObjectInfo info;  // for files
};

struct FileHandle {
  enum class Mode { kRead, kWrite };
  enum class Upload { kOpen, kFinishing, kDone };
  FileHandle(std::shared_ptr<Inode> inode, Mode mode) : inode(std::move(inode)), mode(mode) {}

  const std::shared_ptr<Inode> inode;
  const Mode mode;
  std::unique_ptr<ObjectReader> reader;  // kRead; set before the handle is published
  std::unique_ptr<ObjectWriter> writer;  // kWrite; set before the handle is published

  std::mutex write_mu;  // serializes writer->Write calls
  std::mutex mu;
  Upload upload = Upload::kOpen;                // GUARDED_BY(mu)
  Status upload_status;                         // GUARDED_BY(mu)
  std::vector<Callback<Empty>> finish_waiters;  // GUARDED_BY(mu)
  // A write that failed (out of order, or the upload failed) spoils the file: it is never
  // committed, and every later write, flush and fsync returns this error.
  Status write_error;  // GUARDED_BY(mu)
  // An empty object was stored by a flush before any write (see FileSystem::Flush).
  bool empty_committed = false;  // GUARDED_BY(mu)
  ObjectInfo empty_info;         // GUARDED_BY(mu)
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
  std::vector<Waiter> waiters;                           // GUARDED_BY(mu)
};

struct FileSystem::Impl {
  Impl(ObjectClient* client, BufferPool* pool, FsOptions options);

  // --- file_system.cc ---
  MonoTime Now() const { return clock->Monotonic(); }
  MonoTime Expiry() const { return ExpiryAfter(Now(), options.metadata_ttl); }
  Attr MakeAttr(const Inode& inode, const InodeState& s) const;
  Attr MakeAttr(const Inode& inode) const { return MakeAttr(inode, inode.Snapshot()); }
  std::chrono::nanoseconds EntryTtl(const InodeState& s) const;
  // HEAD key and LIST key + "/" concurrently; done when both have answered.
  void RemoteLookup(const std::string& parent_key, const std::string& name,
                    Callback<RemoteEntry> done);
  // The inode for `name` in `parent`: from the cache when fresh, else from S3 (recording
  // the answer, positive or negative). Adds a kernel lookup when `count`.
  void Resolve(std::shared_ptr<Inode> parent, const std::string& name, bool count,
               Callback<std::shared_ptr<Inode>> done);
  Status CheckDir(const std::shared_ptr<Inode>& dir, InodeId ino) const;
  Status CheckNewName(const std::string& name) const;

  // --- file_system_dir.cc ---
  void PumpDir(const std::shared_ptr<DirHandle>& h);
  void FetchPage(const std::shared_ptr<DirHandle>& h);
  void AppendListed(DirHandle& h, std::vector<ListedEntry> listed);  // requires h.mu
  void AppendInode(DirHandle& h, std::shared_ptr<Inode> inode);      // requires h.mu

  // --- file_system_file.cc ---
  void OpenForRead(std::shared_ptr<Inode> inode, Callback<OpenResult> done);
  Result<OpenResult> OpenForWrite(const std::shared_ptr<Inode>& inode, int flags);
  Status RetryOnNewInode(const Inode& inode);
  uint64_t AddFileHandle(std::shared_ptr<FileHandle> h);
  std::shared_ptr<FileHandle> GetFileHandle(uint64_t handle, InodeId ino);
  void FinishUpload(const std::shared_ptr<FileHandle>& h, uint64_t id, Callback<Empty> done);
  void CommitEmpty(const std::shared_ptr<FileHandle>& h, Callback<Empty> done);
  // Records the first failed write of a handle and abandons its upload; returns `error`.
  Status SpoilWrite(const std::shared_ptr<FileHandle>& h, Status error);
  void RmdirRemote(InodeId parent, const std::string& name, std::shared_ptr<Inode> inode,
                   Callback<Empty> done);
  // At release: true (and the upload finished) when the empty object a flush stored is the
  // file's final content, so no second request is needed.
  bool FinishCommittedEmpty(const std::shared_ptr<FileHandle>& h, uint64_t id);
  void OnUploaded(FileHandle* h, uint64_t id, const Result<ObjectInfo>& r);
  void ReapClosed();

  ObjectClient* const client;
  BufferPool* const pool;
  const FsOptions options;
  Clock* const clock;
  int64_t mount_time_sec = 0;  // directories' times
  InodeTable table;

  mutable std::mutex handles_mu;
  std::condition_variable uploads_cv;
  uint64_t next_handle = 1;                                         // GUARDED_BY(handles_mu)
  std::unordered_map<uint64_t, std::shared_ptr<FileHandle>> files;  // GUARDED_BY(handles_mu)
  std::unordered_map<uint64_t, std::shared_ptr<DirHandle>> dirs;    // GUARDED_BY(handles_mu)
  // Released write handles whose upload is still running, and finished ones to destroy
  // on a caller's thread (never inside the writer's own completion).
  std::unordered_map<uint64_t, std::shared_ptr<FileHandle>> closing;  // GUARDED_BY(handles_mu)
  std::vector<std::shared_ptr<FileHandle>> reap;                      // GUARDED_BY(handles_mu)
  int uploads_in_flight = 0;                                          // GUARDED_BY(handles_mu)
};

}  // namespace s3m
