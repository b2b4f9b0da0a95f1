// FileSystem directory operations: directory handles and streaming readdir over paged
// ListObjectsV2, mkdir of local directories, rmdir. Threading and lock order: see
// file_system_impl.h.
#include <algorithm>

#include "fs/file_system_impl.h"
#include "fs/posix_meta.h"

namespace s3m {
namespace {

// Keys per ListObjectsV2 page: S3's maximum (and default) max-keys.
constexpr int kListPageKeys = 1000;

Status BadDirHandle() {
  return Status(Code::kBadHandle, "unknown directory handle");
}

}  // namespace

Result<uint64_t> FileSystem::OpenDir(InodeId ino) {
  std::shared_ptr<Inode> dir = impl_->table.Get(ino);
  Status s = impl_->CheckDir(dir, ino);
  if (!s.ok()) return s;
  auto h = std::make_shared<DirHandle>(dir);
  std::shared_ptr<Inode> parent = impl_->table.Get(dir->parent);
  if (parent == nullptr) parent = dir;
  h->entries.push_back(DirEntry{".", impl_->MakeAttr(*dir), 1});
  h->entries.push_back(DirEntry{"..", impl_->MakeAttr(*parent), 2});
  {
    std::lock_guard l(h->mu);
    // Within the TTL of a complete listing, the table is the listing (no request).
    if (!impl_->ServeCachedListing(*h)) {
      for (std::shared_ptr<Inode>& c : impl_->table.LocalChildren(ino)) {
        h->locals.emplace(c->name, std::move(c));
      }
    }
  }
  std::lock_guard l(impl_->handles_mu);
  uint64_t id = impl_->next_handle++;
  impl_->dirs[id] = std::move(h);
  return id;
}

void FileSystem::ReadDir(InodeId ino, uint64_t handle, uint64_t offset, size_t max_entries,
                         Callback<std::vector<DirEntry>> done) {
  std::shared_ptr<DirHandle> h;
  {
    std::lock_guard l(impl_->handles_mu);
    auto it = impl_->dirs.find(handle);
    if (it != impl_->dirs.end() && it->second->dir->ino == ino) h = it->second;
  }
  if (h == nullptr) return done(BadDirHandle());
  {
    std::lock_guard l(h->mu);
    h->waiters.push_back({offset, std::max<size_t>(max_entries, 1), std::move(done)});
  }
  impl_->PumpDir(h);
}

void FileSystem::ReleaseDir(InodeId, uint64_t handle) {
  std::shared_ptr<DirHandle> h;  // destroyed outside the lock
  std::lock_guard l(impl_->handles_mu);
  auto it = impl_->dirs.find(handle);
  if (it == impl_->dirs.end()) return;
  h = std::move(it->second);
  impl_->dirs.erase(it);
}

// Answers every waiting ReadDir that the entries listed so far can fill (or all of them once
// the listing is complete), and fetches the next page if some still wait.
void FileSystem::Impl::PumpDir(const std::shared_ptr<DirHandle>& h) {
  std::vector<std::pair<Callback<std::vector<DirEntry>>, std::vector<DirEntry>>> replies;
  bool fetch = false;
  {
    std::lock_guard l(h->mu);
    auto& w = h->waiters;
    for (auto it = w.begin(); it != w.end();) {
      // Fill the reply (one page holds more entries than a kernel buffer), or end it.
      if (it->offset + it->max_entries > h->entries.size() && !h->listing_done) {
        ++it;
        continue;
      }
      std::vector<DirEntry> slice;
      for (uint64_t i = it->offset; i < h->entries.size() && slice.size() < it->max_entries; ++i) {
        slice.push_back(h->entries[i]);
      }
      replies.emplace_back(std::move(it->done), std::move(slice));
      it = w.erase(it);
    }
    if (!w.empty() && !h->fetching) fetch = h->fetching = true;
  }
  for (auto& [done, slice] : replies) done(std::move(slice));
  if (fetch) FetchPage(h);
}

void FileSystem::Impl::FetchPage(const std::shared_ptr<DirHandle>& h) {
  ListObjectsParams p;
  p.prefix = h->dir->key;
  p.delimiter.push_back('/');  // (not = "/": GCC 12 -Wrestrict false positive)
  p.max_keys = kListPageKeys;
  {
    std::lock_guard l(h->mu);
    p.continuation_token = h->token;
    if (h->token.empty()) {
      h->asked = Expiry();
      h->until = KnownRangeUntil();
    }
  }
  client->ListObjects(std::move(p), [this, h](Result<ListObjectsResult> r) {
    if (!r.ok()) {
      std::vector<DirHandle::Waiter> failed;
      {
        std::lock_guard l(h->mu);
        failed.swap(h->waiters);
        h->fetching = false;
      }
      for (auto& w : failed) w.done(r.status());
      return;
    }
    std::vector<ListedEntry> ready;
    // A truncated page without a token would loop forever: treat it as the end.
    bool last = !r->truncated || r->next_continuation_token.empty();
    {
      std::lock_guard l(h->mu);
      h->token = r->next_continuation_token;
      h->merger.AddPage(*r, last);
      ready = h->merger.TakeReady();
    }
    if (!options.posix) return AddPage(h, std::move(ready), last);
    // Listings carry no user metadata: --posix learns it before the page is returned.
    HeadListed(*h->dir, std::move(ready), [this, h, last](Result<std::vector<ListedEntry>> e) {
      AddPage(h, std::move(*e), last);
    });
  });
}

void FileSystem::Impl::AddPage(const std::shared_ptr<DirHandle>& h, std::vector<ListedEntry> ready,
                               bool last) {
  {
    std::lock_guard l(h->mu);
    AppendListed(*h, std::move(ready));
    if (last) {
      for (auto& [name, inode] : h->locals) {
        if (table.Find(h->dir->ino, name) == inode) AppendInode(*h, inode);
      }
      h->locals.clear();
      h->listing_done = true;
      FinishListing(*h);
    }
    h->fetching = false;
  }
  PumpDir(h);
}

// Appends listed entries, interleaving the local children that sort before each.
void FileSystem::Impl::AppendListed(DirHandle& h, std::vector<ListedEntry> listed) {
  MonoTime expiry = Expiry();
  for (ListedEntry& e : listed) {
    while (!h.locals.empty() && h.locals.begin()->first < e.name) {
      auto local = h.locals.begin();
      if (table.Find(h.dir->ino, local->first) == local->second) AppendInode(h, local->second);
      h.locals.erase(local);
    }
    // On a tie the table decides which inode answers (a local one wins).
    if (!h.locals.empty() && h.locals.begin()->first == e.name) h.locals.erase(h.locals.begin());
    const ObjectInfo* info = e.kind == EntryKind::kFile ? &e.info : nullptr;
    std::shared_ptr<Inode> inode =
        table.Upsert(*h.dir, e.name, e.kind, info, expiry, /*add_lookup=*/false);
    if (e.meta_known) RecordMeta(inode, e.info.metadata);
    AppendInode(h, std::move(inode));
  }
}

void FileSystem::Impl::AppendInode(DirHandle& h, std::shared_ptr<Inode> inode) {
  h.entries.push_back(DirEntry{inode->name, MakeAttr(*inode), h.entries.size() + 1});
  h.pins.push_back(std::move(inode));
}

void FileSystem::Mkdir(InodeId parent, const std::string& name, uint32_t mode, Callback<Entry> done,
                       std::optional<Owner> owner) {
  if (impl_->options.read_only) return done(Status(Code::kReadOnly, "read-only mount"));
  std::shared_ptr<Inode> dir = impl_->table.Get(parent);
  Status s = impl_->CheckDir(dir, parent);
  if (s.ok()) s = impl_->CheckNewName(name);
  if (!s.ok()) return done(s);
  // The directory is stored as a marker object "name/", so that it lasts when empty: after
  // its last file goes, across remounts, and on other nodes.
  Impl* impl = impl_.get();
  impl->Resolve(dir, name, /*count=*/false,
                [impl, dir, name, mode, owner, done](Result<std::shared_ptr<Inode>> r) {
                  if (r.ok()) return done(Status(Code::kExists, "file exists: " + name));
                  if (r.status().code() != Code::kNotFound) return done(r.status());
                  PutObjectParams p;
                  p.key = ChildKey(dir->key, name, EntryKind::kDir);
                  p.storage_class = impl->options.writer.storage_class;
                  if (impl->options.posix) {
                    // As s3fs writes a marker: the mode without type bits, and its content type.
                    p.metadata = impl->NewMeta(mode & 07777, owner);
                    p.content_type = kDirContentType;
                  }
                  Metadata meta = p.metadata;
                  impl->client->PutObject(
                      std::move(p), [impl, dir, name, meta, done](Result<PutObjectResult> put) {
                        if (!put.ok()) return done(put.status());
                        std::shared_ptr<Inode> inode = impl->table.Upsert(
                            *dir, name, EntryKind::kDir, nullptr, impl->Expiry(), true);
                        if (impl->options.posix) impl->RecordMeta(inode, meta);
                        impl->table.MarkAncestorsRemote(*inode, impl->Expiry());
                        // A new directory is empty: its listing and lookups in it are known.
                        impl->table.SetKnownRange(inode->ino, "", std::nullopt, true,
                                                  impl->KnownRangeUntil());
                        {
                          std::lock_guard l(inode->mu);
                          inode->st.mtime_sec = impl->WallSeconds();
                        }
                        InodeState st = inode->Snapshot();
                        done(Entry{impl->MakeAttr(*inode, st), impl->EntryTtl(st)});
                      });
                });
}

void FileSystem::Rmdir(InodeId parent, const std::string& name, Callback<Empty> done) {
  if (impl_->options.read_only) return done(Status(Code::kReadOnly, "read-only mount"));
  std::shared_ptr<Inode> dir = impl_->table.Get(parent);
  Status s = impl_->CheckDir(dir, parent);
  if (!s.ok()) return done(s);
  if (!IsValidName(name)) return done(Status(Code::kNotFound, "no such directory: " + name));
  impl_->Resolve(dir, name, /*count=*/false,
                 [impl = impl_.get(), parent, name, done](Result<std::shared_ptr<Inode>> r) {
                   if (!r.ok()) return done(r.status());
                   std::shared_ptr<Inode> inode = *r;
                   if (!inode->is_dir()) {
                     return done(Status(Code::kNotDirectory, "not a directory: " + name));
                   }
                   if (!impl->table.LocalChildren(inode->ino).empty()) {
                     return done(Status(Code::kNotEmpty, "directory not empty: " + name));
                   }
                   if (inode->Snapshot().where == Locality::kLocalDir) {
                     impl->table.RemoveName(parent, name, inode.get(), /*keep_local=*/false, /*gone=*/true);
                     impl->KnowGone(parent, name);
                     return done(Empty{});
                   }
                   impl->RmdirRemote(parent, name, std::move(inode), done);
                 });
}

// A directory that S3 implies: it can go once no key remains under it (its files were
// deleted), apart from a directory marker ("name/"), which is deleted with it.
void FileSystem::Impl::RmdirRemote(InodeId parent, const std::string& name,
                                   std::shared_ptr<Inode> inode, Callback<Empty> done) {
  // Two keys tell all: the marker and one other, or just one other.
  constexpr int kProbeKeys = 2;
  client->ListObjects({.prefix = inode->key, .max_keys = kProbeKeys},
                      [this, parent, name, inode, done](Result<ListObjectsResult> r) {
                        if (!r.ok()) return done(r.status());
                        bool marker = false;
                        for (const ObjectInfo& o : r->objects) {
                          if (o.key != inode->key) {
                            return done(Status(Code::kNotEmpty, "directory not empty: " + name));
                          }
                          marker = true;
                        }
                        auto forget = [this, parent, name, inode, done] {
                          table.RemoveName(parent, name, inode.get(), /*keep_local=*/false, /*gone=*/true);
                          KnowGone(parent, name);
                          done(Empty{});
                        };
                        // The marker of an empty directory holds no data: removing it needs no
                        // --allow-delete.
                        if (!marker) return forget();
                        client->DeleteObject({inode->key}, [forget, done](Result<Empty> d) {
                          if (!d.ok()) return done(d.status());
                          forget();
                        });
                      });
}

}  // namespace s3m
