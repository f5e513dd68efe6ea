// berth-nfs-fuse's directory handle cache: how long an entry is trusted, and what a rename or
// rmdir through the mount forgets.
#include "backends/nfs/fuse/directory_handles.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace berth::nfs {
namespace {

using namespace std::chrono_literals;
using Clock = DirectoryHandles::Clock;

FileHandle Handle(const std::string& bytes) { return FileHandle{bytes}; }

std::string Known(const DirectoryHandles& cache, const std::string& path, Clock::time_point now) {
  const auto found = cache.Find(path, now);
  return found ? found->bytes : "(none)";
}

TEST(DirectoryHandles, TheRootIsAlwaysKnownAndOthersOnlyWithinTheirLifetime) {
  DirectoryHandles cache(Handle("root"), 1s);
  const Clock::time_point t0 = Clock::now();
  EXPECT_EQ(Known(cache, "/", t0 + 1h), "root");
  EXPECT_EQ(Known(cache, "/a", t0), "(none)");
  cache.Remember("/a", Handle("a"), t0);
  EXPECT_EQ(Known(cache, "/a", t0 + 999ms), "a");
  // As old as the kernel's entry timeout: the kernel asks again, and so does the cache.
  EXPECT_EQ(Known(cache, "/a", t0 + 1s), "(none)");
  cache.Remember("/a", Handle("a2"), t0 + 2s);
  EXPECT_EQ(Known(cache, "/a", t0 + 2s), "a2");
}

TEST(DirectoryHandles, ForgettingAPathForgetsEverythingBelowItAndNothingBeside) {
  DirectoryHandles cache(Handle("root"), 1h);
  const Clock::time_point now = Clock::now();
  for (const char* path : {"/a", "/a/b", "/a/b/c", "/a!", "/a-x", "/ab", "/a-x/b", "/b"}) {
    cache.Remember(path, Handle(path), now);
  }
  cache.Forget("/a");
  // "/a!" and "/a-x" sort between "/a" and "/a/": a prefix scan that stops at the first
  // non-child would keep "/a/b". Every child goes, every sibling stays.
  for (const char* gone : {"/a", "/a/b", "/a/b/c"}) {
    EXPECT_EQ(Known(cache, gone, now), "(none)") << gone;
  }
  for (const char* kept : {"/a!", "/a-x", "/ab", "/a-x/b", "/b"}) {
    EXPECT_EQ(Known(cache, kept, now), kept) << kept;
  }
  cache.Forget("/");
  EXPECT_EQ(cache.size(), 0U);
  EXPECT_EQ(Known(cache, "/", now), "root");
}

TEST(DirectoryHandles, ANoLifetimeCacheRemembersNothingAndTheBoundClearsIt) {
  DirectoryHandles never(Handle("root"), 0s);
  never.Remember("/a", Handle("a"), Clock::now());
  EXPECT_EQ(never.size(), 0U);

  DirectoryHandles bounded(Handle("root"), 1h, 2);
  const Clock::time_point now = Clock::now();
  bounded.Remember("/a", Handle("a"), now);
  bounded.Remember("/b", Handle("b"), now);
  bounded.Remember("/b", Handle("b2"), now);  // a refresh is not a new entry
  EXPECT_EQ(bounded.size(), 2U);
  bounded.Remember("/c", Handle("c"), now);
  EXPECT_EQ(bounded.size(), 1U);
  EXPECT_EQ(Known(bounded, "/c", now), "c");
}

TEST(DirectoryHandles, SplitNamesTheParentAndTheLastComponent) {
  EXPECT_EQ(Split("/a/b/c").parent, "/a/b");
  EXPECT_EQ(Split("/a/b/c").name, "c");
  EXPECT_EQ(Split("/c").parent, "/");
  EXPECT_EQ(Split("/c").name, "c");
}

}  // namespace
}  // namespace berth::nfs
