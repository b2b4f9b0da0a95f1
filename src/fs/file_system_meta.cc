// FileSystem name resolution under the metadata policy (metadata_policy.h): lookups from
// the table, HEAD revalidation of files, bulk refreshes of listed directories (one LIST
// in flight per directory, shared by the lookups that arrive meanwhile), and what a
// complete listing leaves in the table (the directory listing cache). Threading and lock
// order: see file_system_impl.h; refresh_mu is taken alone.
#include <algorithm>
#include <set>

#include "fs/file_system_impl.h"
#include "fs/metadata_policy.h"

namespace s3m {
namespace {

Status NotFound(const std::string& name) {
  return Status(Code::kNotFound, "no such file or directory: " + name);
}

// Keys per bulk refresh: S3's maximum page.
constexpr int kRefreshKeys = 1000;
// How many bulk refreshes one lookup may wait for before it asks for its name alone: a
// lookup that joined a refresh which did not reach its name starts (or joins) one more.
constexpr int kRefreshRounds = 2;

}  // namespace

MonoTime FileSystem::Impl::KnownRangeUntil() const {
  return ExpiryAfter(Now(), std::min(options.metadata_ttl, options.negative_metadata_ttl));
}

void FileSystem::Impl::KnowGone(InodeId parent, const std::string& name) {
  if (options.negative_metadata_ttl > std::chrono::nanoseconds::zero()) {
    table.AddNegative(parent, name, ExpiryAfter(Now(), options.negative_metadata_ttl));
  }
}

void FileSystem::Impl::Resolve(std::shared_ptr<Inode> parent, const std::string& name, bool count,
                               Callback<std::shared_ptr<Inode>> done) {
  ResolveRound(std::move(parent), name, count, kRefreshRounds, std::move(done));
}

void FileSystem::Impl::ResolveRound(std::shared_ptr<Inode> parent, const std::string& name,
                                    bool count, int refreshes,
                                    Callback<std::shared_ptr<Inode>> done) {
  LookupFacts f;
  f.now = Now();
  f.posix = options.posix;
  // A bulk refresh answers missing names through its known range, which lasts the shorter
  // of the two TTLs: with either at zero it would answer nothing.
  f.ttl_positive = std::min(options.metadata_ttl, options.negative_metadata_ttl) >
                   std::chrono::nanoseconds::zero();
  std::shared_ptr<Inode> cached = table.Find(parent->ino, name);
  InodeState st;
  if (cached) {
    st = cached->Snapshot();
    f.cached = &st;
    f.kind = cached->kind;
  } else {
    f.negative = table.IsNegative(parent->ino, name, f.now);
    f.known_absent = table.KnownAbsent(parent->ino, name, f.now);
  }
  f.parent_listed = refreshes > 0 && table.Listed(parent->ino);
  switch (PlanLookup(f)) {
    case MetaPlan::kCached:
      // AddLookup fails if a concurrent Forget dropped the inode: then ask S3.
      if (!count || table.AddLookup(cached->ino)) return done(std::move(cached));
      break;
    case MetaPlan::kAbsent:
      return done(NotFound(name));
    case MetaPlan::kRefreshDir:
      return RefreshNames(parent, name,
                          [this, parent, name, count, refreshes, done](Result<Empty> r) {
                            if (!r.ok()) return done(r.status());
                            ResolveRound(parent, name, count, refreshes - 1, done);
                          });
    case MetaPlan::kHead:
      return HeadResolve(std::move(parent), name, std::move(cached), st.etag, count, done);
    case MetaPlan::kList:
      break;
  }
  ListResolve(std::move(parent), name, count, std::move(done));
}

void FileSystem::Impl::ListResolve(std::shared_ptr<Inode> parent, const std::string& name,
                                   bool count, Callback<std::shared_ptr<Inode>> done) {
  RemoteLookup(parent->key, name, [this, parent, name, count, done](Result<RemoteEntry> r) {
    if (!r.ok()) return done(r.status());
    if (r->found) {
      const ObjectInfo* info = r->kind == EntryKind::kFile ? &r->info : nullptr;
      std::shared_ptr<Inode> inode = table.Upsert(*parent, name, r->kind, info, Expiry(), count);
      if (r->meta_known) RecordMeta(inode, r->info.metadata);
      return done(std::move(inode));
    }
    table.RemoveName(parent->ino, name, nullptr, /*keep_local=*/true, /*gone=*/true);
    // A local entry (mkdir, create) made while S3 was asked answers for the name.
    std::shared_ptr<Inode> local = table.Find(parent->ino, name);
    if (local && (!count || table.AddLookup(local->ino))) return done(std::move(local));
    KnowGone(parent->ino, name);
    done(NotFound(name));
  });
}

// A file known by its ETag: a HEAD says whether it is still the same object (then the
// inode and its attributes stand, only their expiry moves) or a new one (new attributes,
// through Upsert, which gives a file open on the old version a new inode). A 404 may mean
// a directory took the name: a LIST decides.
void FileSystem::Impl::HeadResolve(std::shared_ptr<Inode> parent, const std::string& name,
                                   std::shared_ptr<Inode> cached, std::string etag, bool count,
                                   Callback<std::shared_ptr<Inode>> done) {
  std::string key = cached->key;
  client->HeadObject({key}, [this, parent, name, cached, etag, count, done](Result<ObjectInfo> r) {
    if (!r.ok() && r.status().code() == Code::kNotFound) {
      return ListResolve(parent, name, count, done);
    }
    if (!r.ok()) return done(r.status());
    if (SameEtag(r->etag, etag) && table.Find(parent->ino, name) == cached) {
      {
        std::lock_guard l(cached->mu);
        if (cached->st.where == Locality::kRemote) cached->st.expiry = Expiry();
        if (options.posix) Inode::ApplyMeta(cached->st, r->metadata, Expiry());
      }
      if (!count || table.AddLookup(cached->ino)) return done(cached);
    }
    std::shared_ptr<Inode> inode =
        table.Upsert(*parent, name, EntryKind::kFile, &*r, Expiry(), count);
    if (options.posix) RecordMeta(inode, r->metadata);
    done(std::move(inode));
  });
}

void FileSystem::Impl::HeadRemote(const std::string& key, Callback<RemoteEntry> done) {
  client->HeadObject({key}, [done](Result<ObjectInfo> r) {
    if (!r.ok() && r.status().code() == Code::kNotFound) return done(RemoteEntry{});
    if (!r.ok()) return done(r.status());
    RemoteEntry e{true, EntryKind::kFile, std::move(*r), true};
    done(std::move(e));
  });
}

// One LIST in flight per directory: lookups that arrive while it runs wait for it, and
// then look at the table again (metadata_policy.h).
void FileSystem::Impl::RefreshNames(std::shared_ptr<Inode> dir, const std::string& name,
                                    Callback<Empty> done) {
  {
    std::lock_guard l(refresh_mu);
    std::vector<Callback<Empty>>& waiters = refreshing[dir->ino];
    waiters.push_back(std::move(done));
    if (waiters.size() > 1) return;
  }
  std::string after = RefreshStartAfter(name);
  ListObjectsParams p;
  p.prefix = dir->key;
  p.delimiter.push_back('/');
  p.max_keys = kRefreshKeys;
  if (!after.empty()) p.start_after = dir->key + after;
  // Names not refreshed since this moment and missing from the answer are gone.
  MonoTime asked = Expiry();
  MonoTime until = KnownRangeUntil();
  client->ListObjects(std::move(p), [this, dir, after, asked, until](Result<ListObjectsResult> r) {
    if (r.ok()) ApplyRefresh(*dir, after, *r, asked, until);
    std::vector<Callback<Empty>> waiters;
    {
      std::lock_guard l(refresh_mu);
      auto it = refreshing.find(dir->ino);
      waiters.swap(it->second);
      refreshing.erase(it);
    }
    for (auto& w : waiters) r.ok() ? w(Empty{}) : w(r.status());
  });
}

void FileSystem::Impl::ApplyRefresh(const Inode& dir, const std::string& after,
                                    const ListObjectsResult& page, MonoTime asked, MonoTime until) {
  ListingMerger merger(dir.key);
  bool last = !page.truncated || page.next_continuation_token.empty();
  merger.AddPage(page, last);
  std::vector<ListedEntry> ready = merger.TakeReady();
  std::optional<std::string> upto;
  if (!last) {
    if (ready.empty()) return;
    upto = ready.back().name;
  }
  std::set<std::string> seen;
  MonoTime now = Now();
  for (ListedEntry& e : ready) {
    seen.insert(e.name);
    // What this mount deleted meanwhile stays deleted (the LIST may predate the DELETE).
    if (table.IsNegative(dir.ino, e.name, now)) continue;
    const ObjectInfo* info = e.kind == EntryKind::kFile ? &e.info : nullptr;
    table.Upsert(dir, e.name, e.kind, info, Expiry(), /*add_lookup=*/false);
  }
  ForgetUnlisted(dir, after, upto, seen, asked);
  table.SetKnownRange(dir.ino, after, std::move(upto), /*whole=*/false, until);
}

void FileSystem::Impl::ForgetUnlisted(const Inode& dir, const std::string& after,
                                      const std::optional<std::string>& upto,
                                      const std::set<std::string>& seen, MonoTime asked) {
  for (const std::shared_ptr<Inode>& c : table.ChildrenInRange(dir.ino, after, upto)) {
    if (seen.count(c->name)) continue;
    InodeState s = c->Snapshot();
    // Local entries, and names this mount learned after the LIST was sent, stay.
    if (s.where != Locality::kRemote || s.expiry >= asked) continue;
    table.RemoveName(dir.ino, c->name, c.get(), /*keep_local=*/true, /*gone=*/true);
  }
}

void FileSystem::Impl::FinishListing(DirHandle& h) {
  if (options.metadata_ttl <= std::chrono::nanoseconds::zero()) return;
  std::set<std::string> seen;
  for (const DirEntry& e : h.entries) seen.insert(e.name);
  ForgetUnlisted(*h.dir, "", std::nullopt, seen, h.asked);
  table.SetKnownRange(h.dir->ino, "", std::nullopt, /*whole=*/true, h.until);
}

bool FileSystem::Impl::ServeCachedListing(DirHandle& h) {
  if (!table.ListingFresh(h.dir->ino, Now())) return false;
  for (std::shared_ptr<Inode>& c : table.Children(h.dir->ino)) AppendInode(h, std::move(c));
  h.locals.clear();
  h.listing_done = true;
  return true;
}

}  // namespace s3m
