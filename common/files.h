// Small file helpers that every layer needs: crash-safe writes and whole-file reads.
#pragma once

#include <optional>
#include <string>

namespace berth {

// Replaces `path` with `content` so that a crash leaves either the old or the new file:
// temp file in the same directory, fsync, rename, fsync of the directory.
void WriteFileAtomically(const std::string& path, const std::string& content, int mode = 0600);

// The whole file, or nullopt when it does not exist. Other failures throw.
std::optional<std::string> ReadFileIfExists(const std::string& path);

bool PathExists(const std::string& path);

// The absolute path with every symlink, "." and ".." resolved (realpath(3)); the path must exist.
std::string RealPath(const std::string& path);

// mkdir -p with exactly the given mode (whatever the umask) for the directories it creates.
void MakeDirectories(const std::string& path, int mode = 0700);

// MakeDirectories, and then `path` itself (perhaps made earlier, more open) set to 0700.
void MakePrivateDirectory(const std::string& path);

// mkdir -p of `relative` (one or more plain names, no "." or "..") below the directory `root`,
// for a path that gets something mounted on it. Refuses, with kConflict and nothing mounted or
// changed, when `root` is writable by group or others (anyone could plant a symlink in it), or
// when a component below it is a symlink, not a directory, or not owned by this process's user:
// mount(2) and umount(2) follow symlinks, so a planted one would redirect a mount outside `root`.
void MakeMountDirectories(const std::string& root, const std::string& relative, int mode);

}  // namespace berth
