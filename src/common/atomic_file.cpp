#include "common/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>

#include "common/unique_fd.hpp"

namespace common {

namespace {

[[noreturn]] void fail(const std::string& what, const std::filesystem::path& path) {
    throw std::system_error(errno, std::generic_category(), what + " " + path.string());
}

// Removes the temporary file unless the rename has consumed it.
class TemporaryFile {
  public:
    explicit TemporaryFile(std::string path) : path_(std::move(path)) {}
    TemporaryFile(const TemporaryFile&) = delete;
    TemporaryFile& operator=(const TemporaryFile&) = delete;
    ~TemporaryFile() {
        if (!path_.empty()) {
            ::unlink(path_.c_str());
        }
    }
    const std::string& path() const { return path_; }
    void release() { path_.clear(); }

  private:
    std::string path_;
};

void write_all(int fd, std::string_view content, const std::filesystem::path& path) {
    while (!content.empty()) {
        const ssize_t written = ::write(fd, content.data(), content.size());
        if (written < 0) {
            if (errno == EINTR) {
                continue;
            }
            fail("cannot write", path);
        }
        content.remove_prefix(static_cast<std::size_t>(written));
    }
}

}  // namespace

void write_file_atomically(const std::filesystem::path& path, std::string_view content,
                           mode_t mode) {
    // A leading dot keeps the temporary out of globs such as "*.conf".
    const std::filesystem::path directory = path.parent_path().empty() ? "." : path.parent_path();
    std::string pattern = (directory / ("." + path.filename().string() + ".XXXXXX")).string();
    common::UniqueFd file(::mkostemp(pattern.data(), O_CLOEXEC));
    if (file.get() < 0) {
        fail("cannot create a temporary file for", path);
    }
    TemporaryFile temporary(pattern);
    write_all(file.get(), content, path);
    // mkostemp creates 0600; the firewall tools and the administrator read it.
    if (::fchmod(file.get(), mode) != 0) {
        fail("cannot set the mode of", path);
    }
    if (::fsync(file.get()) != 0) {
        fail("cannot flush", path);
    }
    if (::close(file.release()) != 0) {
        fail("cannot close", path);
    }
    if (::rename(temporary.path().c_str(), path.c_str()) != 0) {
        fail("cannot replace", path);
    }
    temporary.release();
    // The rename itself is durable only once the directory is flushed.
    common::UniqueFd dir(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir.get() < 0 || ::fsync(dir.get()) != 0) {
        fail("cannot flush the directory of", path);
    }
}

}  // namespace common
