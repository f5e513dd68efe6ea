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

// mkdir -p with the given mode for the directories it creates.
void MakeDirectories(const std::string& path, int mode = 0700);

}  // namespace berth
