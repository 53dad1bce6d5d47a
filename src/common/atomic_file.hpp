// Replacing a file so that a reader (pfctl, nft, a reboot halfway through)
// sees either the old or the new content, never a mix or a truncated file.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string_view>

namespace common {

// Writes `content` to a temporary file in the directory of `path`, flushes
// it to disk, gives it `mode`, and renames it over `path` (rename is atomic
// within one file system, hence the same directory). Throws
// std::system_error naming the file; the temporary file is removed then.
void write_file_atomically(const std::filesystem::path& path, std::string_view content,
                           mode_t mode = 0644);

}  // namespace common
