// The digest of a configuration file: SHA-256 of its bytes, in lowercase hex
// (as sha256sum prints it). `ftpproxyctl status` shows the running file's,
// `check --compare` compares two, so the nodes of a cluster can prove they
// run the same file.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace config {

inline constexpr std::size_t kSha256HexLength = 64;

std::string sha256_hex(std::string_view bytes);

// 64 hexadecimal digits, either case.
bool is_sha256_hex(std::string_view text);

}  // namespace config
