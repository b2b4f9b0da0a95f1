// The FUSE low-level operations: each translates one request into a FileSystem call and
// replies exactly once.
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "common/disk_wait.h"
#include "common/log.h"
#include "fs/file_system.h"
#include "fuse/drop_behind.h"
#include "fuse/errno_map.h"
#include "fuse/fuse_ops.h"
#include "metrics/mount_metrics.h"

namespace s3m {
namespace {

FuseContext* Ctx(fuse_req_t req) {
  return static_cast<FuseContext*>(fuse_req_userdata(req));
}
FileSystem* Fs(fuse_req_t req) {
  return Ctx(req)->fs;
}

// The caller of a request that creates something: its owner under --posix.
Owner CallerOf(fuse_req_t req) {
  const fuse_ctx* ctx = fuse_req_ctx(req);
  return Owner{ctx->uid, ctx->gid};
}

double Seconds(std::chrono::nanoseconds d) {
  // "indefinite" is nanoseconds::max(): a day is as good as forever to the kernel and
  // avoids overflowing its timeout arithmetic.
  constexpr double kMaxTimeout = 86400.0;
  double s = std::chrono::duration<double>(d).count();
  return s > kMaxTimeout ? kMaxTimeout : s;
}

struct stat ToStat(const Attr& a) {
  struct stat st {};
  st.st_ino = a.ino;
  st.st_mode = a.mode;
  st.st_nlink = a.nlink;
  st.st_uid = a.uid;
  st.st_gid = a.gid;
  st.st_size = static_cast<off_t>(a.size);
  st.st_blksize = 1 << 20;  // suggests 1 MiB I/O to tools like cp
  st.st_blocks = static_cast<blkcnt_t>((a.size + 511) / 512);
  st.st_mtim.tv_sec = a.mtime_sec;
  st.st_mtim.tv_nsec = a.mtime_nsec;
  st.st_atim = st.st_mtim;
  st.st_ctim = st.st_mtim;
  return st;
}

fuse_entry_param ToEntryParam(const Entry& e) {
  fuse_entry_param p{};
  p.ino = e.attr.ino;
  p.generation = 1;
  p.attr = ToStat(e.attr);
  p.attr_timeout = Seconds(e.ttl);
  p.entry_timeout = Seconds(e.ttl);
  return p;
}

using metrics::FuseOp;

// Times the request until the last copy goes (capture it in the completion that replies).
metrics::FuseOpTimer Timer(fuse_req_t req, FuseOp op) {
  return metrics::FuseOpTimer(Ctx(req)->metrics, op);
}

void ReplyErrno(fuse_req_t req, int error) {
  if (error != 0 && Ctx(req)->metrics != nullptr) Ctx(req)->metrics->OnError(error);
  fuse_reply_err(req, error);
}

void ReplyStatus(fuse_req_t req, const Status& s) {
  if (!s.ok()) S3M_TRACE_OP("  -> {} ({})", std::strerror(ToErrno(s)), s.ToString());
  ReplyErrno(req, ToErrno(s));
}

// Replies with an entry; if the kernel did not take it, the lookup it counted is undone.
void ReplyEntry(fuse_req_t req, const Result<Entry>& r) {
  if (!r.ok()) {
    ReplyStatus(req, r.status());
    return;
  }
  fuse_entry_param p = ToEntryParam(*r);
  if (fuse_reply_entry(req, &p) != 0) Fs(req)->Forget(r->attr.ino, 1);
}

void OpLookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  auto t = Timer(req, FuseOp::kLookup);
  S3M_TRACE_OP("lookup parent={} name={}", parent, name);
  auto negative_ttl = Ctx(req)->negative_ttl;
  Fs(req)->Lookup(parent, name, [req, negative_ttl, t](Result<Entry> r) {
    if (!r.ok() && r.status().code() == Code::kNotFound && negative_ttl.count() > 0) {
      // A negative entry (node id 0) lets the kernel cache the miss.
      fuse_entry_param p{};
      p.entry_timeout = Seconds(negative_ttl);
      fuse_reply_entry(req, &p);
      return;
    }
    ReplyEntry(req, r);
  });
}

void OpForget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  auto t = Timer(req, FuseOp::kForget);
  Fs(req)->Forget(ino, nlookup);
  fuse_reply_none(req);
}

void OpForgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  auto t = Timer(req, FuseOp::kForget);
  for (size_t i = 0; i < count; i++) Fs(req)->Forget(forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

void ReplyAttr(fuse_req_t req, const Result<Attr>& r, std::chrono::nanoseconds ttl) {
  if (!r.ok()) {
    ReplyStatus(req, r.status());
    return;
  }
  struct stat st = ToStat(*r);
  fuse_reply_attr(req, &st, Seconds(ttl));
}

void OpGetattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  auto t = Timer(req, FuseOp::kGetattr);
  S3M_TRACE_OP("getattr ino={}", ino);
  auto ttl = Ctx(req)->attr_ttl;
  Fs(req)->GetAttr(ino, [req, ttl, t](Result<Attr> r) { ReplyAttr(req, r, ttl); });
}

void OpSetattr(fuse_req_t req, fuse_ino_t ino, struct stat* st, int to_set, fuse_file_info* fi) {
  auto t = Timer(req, FuseOp::kSetattr);
  S3M_TRACE_OP("setattr ino={} to_set={:#x}", ino, to_set);
  Attr want;
  want.size = static_cast<uint64_t>(st->st_size);
  want.mode = st->st_mode;
  want.uid = st->st_uid;
  want.gid = st->st_gid;
  want.mtime_sec = st->st_mtim.tv_sec;
  want.mtime_nsec = static_cast<int32_t>(st->st_mtim.tv_nsec);
  static constexpr std::pair<int, unsigned> kFields[] = {
      {FUSE_SET_ATTR_SIZE, FileSystem::kSetSize},
      {FUSE_SET_ATTR_MODE, FileSystem::kSetMode},
      {FUSE_SET_ATTR_UID, FileSystem::kSetUid},
      {FUSE_SET_ATTR_GID, FileSystem::kSetGid},
      {FUSE_SET_ATTR_MTIME, FileSystem::kSetMtime},
      {FUSE_SET_ATTR_MTIME_NOW, FileSystem::kSetMtimeNow},
  };
  unsigned fields = 0;
  for (auto [fuse, ours] : kFields) {
    if (to_set & fuse) fields |= ours;
  }
  auto ttl = Ctx(req)->attr_ttl;
  uint64_t handle = fi != nullptr ? fi->fh : 0;  // ftruncate names its file
  Fs(req)->SetAttr(ino, want, fields, handle,
                   [req, ttl, t](Result<Attr> r) { ReplyAttr(req, r, ttl); });
}

void OpMkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  auto t = Timer(req, FuseOp::kMkdir);
  S3M_TRACE_OP("mkdir parent={} name={}", parent, name);
  Fs(req)->Mkdir(
      parent, name, mode, [req, t](Result<Entry> r) { ReplyEntry(req, r); }, CallerOf(req));
}

void OpUnlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  auto t = Timer(req, FuseOp::kUnlink);
  S3M_TRACE_OP("unlink parent={} name={}", parent, name);
  Fs(req)->Unlink(parent, name, [req, t](Result<Empty> r) { ReplyStatus(req, r.status()); });
}

void OpRmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  auto t = Timer(req, FuseOp::kRmdir);
  S3M_TRACE_OP("rmdir parent={} name={}", parent, name);
  Fs(req)->Rmdir(parent, name, [req, t](Result<Empty> r) { ReplyStatus(req, r.status()); });
}

void OpRename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t new_parent,
              const char* new_name, unsigned flags) {
  auto t = Timer(req, FuseOp::kRename);
  S3M_TRACE_OP("rename parent={} name={} -> parent={} name={}", parent, name, new_parent, new_name);
  Fs(req)->Rename(parent, name, new_parent, new_name, flags,
                  [req, t](Result<Empty> r) { ReplyStatus(req, r.status()); });
}

// Objects have no hard links, and no device nodes, FIFOs or sockets.
void OpLink(fuse_req_t req, fuse_ino_t, fuse_ino_t, const char*) {
  auto t = Timer(req, FuseOp::kLink);
  ReplyErrno(req, EPERM);
}
// Symbolic links only with --posix (the file system answers EPERM otherwise).
void OpSymlink(fuse_req_t req, const char* target, fuse_ino_t parent, const char* name) {
  auto t = Timer(req, FuseOp::kSymlink);
  S3M_TRACE_OP("symlink parent={} name={}", parent, name);
  Fs(req)->Symlink(
      parent, name, target, [req, t](Result<Entry> r) { ReplyEntry(req, r); }, CallerOf(req));
}
void OpReadlink(fuse_req_t req, fuse_ino_t ino) {
  auto t = Timer(req, FuseOp::kReadlink);
  S3M_TRACE_OP("readlink ino={}", ino);
  Fs(req)->Readlink(ino, [req, t](Result<std::string> r) {
    if (!r.ok()) return ReplyStatus(req, r.status());
    fuse_reply_readlink(req, r->c_str());
  });
}
void OpMknod(fuse_req_t req, fuse_ino_t, const char*, mode_t, dev_t) {
  auto t = Timer(req, FuseOp::kMknod);
  ReplyErrno(req, EPERM);
}

void OpOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  auto t = Timer(req, FuseOp::kOpen);
  S3M_TRACE_OP("open ino={} flags={:#o}", ino, fi->flags);
  fuse_file_info copy = *fi;
  Fs(req)->Open(ino, fi->flags, [req, ino, copy, t](Result<OpenResult> r) mutable {
    if (!r.ok()) {
      ReplyStatus(req, r.status());
      return;
    }
    copy.fh = r->handle;
    copy.direct_io = r->direct_io;
    copy.keep_cache = r->keep_cache;
    DropBehind* db = Ctx(req)->drop_behind;  // req is gone once answered
    bool keep = db != nullptr && r->size <= Ctx(req)->keep_pages_bytes;
    FileSystem* fs = Fs(req);
    // The caller is gone: it never got the file, so nothing of the open may take effect.
    if (fuse_reply_open(req, &copy) != 0) return fs->Discard(ino, r->handle);
    if (keep) db->Keep(r->handle);
  });
}

void OpCreate(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
              fuse_file_info* fi) {
  auto t = Timer(req, FuseOp::kCreate);
  S3M_TRACE_OP("create parent={} name={} flags={:#o}", parent, name, fi->flags);
  fuse_file_info copy = *fi;
  Fs(req)->Create(
      parent, name, mode, fi->flags,
      [req, copy, t](Result<CreateResult> r) mutable {
        if (!r.ok()) {
          ReplyStatus(req, r.status());
          return;
        }
        copy.fh = r->handle;
        fuse_entry_param p = ToEntryParam(r->entry);
        FileSystem* fs = Fs(req);  // req is freed by the reply, sent or not
        if (fuse_reply_create(req, &p, &copy) != 0) {
          fs->Discard(r->entry.attr.ino, r->handle);
          fs->Forget(r->entry.attr.ino, 1);
        }
      },
      CallerOf(req));
}

void OpRead(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  auto t = Timer(req, FuseOp::kRead);
  S3M_TRACE_OP("read ino={} fh={} off={} size={}", ino, fi->fh, off, size);
  // O_DIRECT reads leave nothing in the page cache.
  if (DropBehind* db = Ctx(req)->drop_behind; db != nullptr && (fi->flags & O_DIRECT) == 0) {
    db->OnRead(fi->fh, ino, fuse_req_ctx(req)->pid, static_cast<uint64_t>(off), size);
  }
  MayWaitOnDisk on_a_fuse_worker;  // a --cache hit may be read here (disk_wait.h)
  Fs(req)->Read(ino, fi->fh, static_cast<uint64_t>(off), size, [req, t](Result<ReadData> r) {
    if (!r.ok()) {
      ReplyStatus(req, r.status());
      return;
    }
    if (r->iov.empty()) {
      fuse_reply_buf(req, nullptr, 0);
      return;
    }
    fuse_reply_iov(req, r->iov.data(), static_cast<int>(r->iov.size()));
  });
}

void OpWrite(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off,
             fuse_file_info* fi) {
  auto t = Timer(req, FuseOp::kWrite);
  S3M_TRACE_OP("write ino={} fh={} off={} size={}", ino, fi->fh, off, size);
  auto r = Fs(req)->Write(ino, fi->fh, static_cast<uint64_t>(off), buf, size);
  if (!r.ok()) {
    ReplyStatus(req, r.status());
    return;
  }
  fuse_reply_write(req, *r);
}

void OpFlush(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  auto t = Timer(req, FuseOp::kFlush);
  S3M_TRACE_OP("flush ino={} fh={}", ino, fi->fh);
  Fs(req)->Flush(ino, fi->fh, [req, t](Result<Empty> r) { ReplyStatus(req, r.status()); });
}

void OpFsync(fuse_req_t req, fuse_ino_t ino, int, fuse_file_info* fi) {
  auto t = Timer(req, FuseOp::kFsync);
  S3M_TRACE_OP("fsync ino={} fh={}", ino, fi->fh);
  Fs(req)->Fsync(ino, fi->fh, [req, t](Result<Empty> r) { ReplyStatus(req, r.status()); });
}

void OpRelease(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  auto t = Timer(req, FuseOp::kRelease);
  S3M_TRACE_OP("release ino={} fh={}", ino, fi->fh);
  if (DropBehind* db = Ctx(req)->drop_behind) db->OnRelease(fi->fh);
  Fs(req)->Release(ino, fi->fh, [req, t](Result<Empty> r) { ReplyStatus(req, r.status()); });
}

void OpOpendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  auto t = Timer(req, FuseOp::kOpendir);
  S3M_TRACE_OP("opendir ino={}", ino);
  auto r = Fs(req)->OpenDir(ino);
  if (!r.ok()) {
    ReplyStatus(req, r.status());
    return;
  }
  fi->fh = *r;
  fi->cache_readdir = 0;
  if (fuse_reply_open(req, fi) != 0) Fs(req)->ReleaseDir(ino, *r);
}

// Fills a reply buffer of at most `size` bytes; with `plus`, counts one lookup for each
// entry that made it into the buffer (never for "." and "..", which the kernel skips).
void ReadDirCommon(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi,
                   bool plus) {
  auto t = Timer(req, plus ? FuseOp::kReaddirplus : FuseOp::kReaddir);
  S3M_TRACE_OP("readdir{} ino={} off={}", plus ? "plus" : "", ino, off);
  // A directory entry takes at least 24 bytes (+ name, 8-aligned); plus entries ~150.
  size_t max_entries = size / (plus ? 150 : 32) + 1;
  auto ttl = Ctx(req)->attr_ttl;
  Fs(req)->ReadDir(ino, fi->fh, static_cast<uint64_t>(off), max_entries,
                   [req, size, plus, ttl, t](Result<std::vector<DirEntry>> r) {
                     if (!r.ok()) {
                       ReplyStatus(req, r.status());
                       return;
                     }
                     std::vector<char> buf(size);
                     size_t used = 0;
                     for (const DirEntry& d : *r) {
                       bool dot = d.name == "." || d.name == "..";
                       size_t n;
                       if (plus) {
                         fuse_entry_param p = ToEntryParam(Entry{d.attr, ttl});
                         if (dot) p.ino = 0;  // no lookup is counted for "." and ".."
                         n = fuse_add_direntry_plus(req, buf.data() + used, size - used,
                                                    d.name.c_str(), &p,
                                                    static_cast<off_t>(d.next_offset));
                       } else {
                         struct stat st = ToStat(d.attr);
                         n = fuse_add_direntry(req, buf.data() + used, size - used, d.name.c_str(),
                                               &st, static_cast<off_t>(d.next_offset));
                       }
                       if (n > size - used)
                         break;  // did not fit: the kernel asks again from this offset
                       if (plus && !dot) Fs(req)->AddLookup(d.attr.ino);
                       used += n;
                     }
                     fuse_reply_buf(req, buf.data(), used);
                   });
}

void OpReaddir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  ReadDirCommon(req, ino, size, off, fi, false);
}

void OpReaddirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  ReadDirCommon(req, ino, size, off, fi, true);
}

void OpReleasedir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  auto t = Timer(req, FuseOp::kReleasedir);
  Fs(req)->ReleaseDir(ino, fi->fh);
  fuse_reply_err(req, 0);
}

void OpStatfs(fuse_req_t req, fuse_ino_t) {
  auto t = Timer(req, FuseOp::kStatfs);
  // S3 has no capacity limit: report a large, constant file system, as Mountpoint does.
  struct statvfs st {};
  st.f_bsize = 1 << 20;
  st.f_frsize = 1 << 20;
  st.f_blocks = st.f_bfree = st.f_bavail = 1ull << 30;
  st.f_files = st.f_ffree = st.f_favail = 1ull << 30;
  st.f_namemax = 255;
  fuse_reply_statfs(req, &st);
}

}  // namespace

void FillFuseOps(fuse_lowlevel_ops* ops) {
  ops->lookup = OpLookup;
  ops->forget = OpForget;
  ops->forget_multi = OpForgetMulti;
  ops->getattr = OpGetattr;
  ops->setattr = OpSetattr;
  ops->mkdir = OpMkdir;
  ops->mknod = OpMknod;
  ops->unlink = OpUnlink;
  ops->rmdir = OpRmdir;
  ops->rename = OpRename;
  ops->link = OpLink;
  ops->symlink = OpSymlink;
  ops->readlink = OpReadlink;
  ops->open = OpOpen;
  ops->create = OpCreate;
  ops->read = OpRead;
  ops->write = OpWrite;
  ops->flush = OpFlush;
  ops->fsync = OpFsync;
  ops->release = OpRelease;
  ops->opendir = OpOpendir;
  ops->readdir = OpReaddir;
  ops->readdirplus = OpReaddirplus;
  ops->releasedir = OpReleasedir;
  ops->statfs = OpStatfs;
  // No xattr or lock operations: the kernel answers EOPNOTSUPP for xattrs and keeps
  // locks local to this node (documented in docs/SEMANTICS.md).
}

}  // namespace s3m
