// Creating filesystems with berth's defaults. There is deliberately no force flag.
#pragma once

#include <string>
#include <vector>

namespace berth::fsutil {

// Filesystem types berth can create and mount.
bool IsSupportedFilesystem(const std::string& fstype);

// The argv that MakeFilesystem runs: mkfs.<fstype>, berth's non-discard defaults
// (ext4: -E nodiscard,lazy_itable_init=1,lazy_journal_init=1; xfs: -K), then the user's
// options, then the device. Throws kInvalidArgument for an unsupported fstype or for user
// options that would force formatting over an existing signature (-F, -f, --force).
std::vector<std::string> MkfsCommand(const std::string& fstype, const std::string& device,
                                     const std::vector<std::string>& user_options);

// Runs MkfsCommand. Only ever called on a device that probed blank (see format_and_mount.h).
void MakeFilesystem(const std::string& fstype, const std::string& device,
                    const std::vector<std::string>& user_options);

}  // namespace berth::fsutil
