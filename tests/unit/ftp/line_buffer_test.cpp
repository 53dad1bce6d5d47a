#include "ftp/line_buffer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

struct Got {
    std::string text;
    bool overlong = false;
    bool operator==(const Got&) const = default;
    friend std::ostream& operator<<(std::ostream& out, const Got& got) {
        return out << (got.overlong ? "overlong:" : "line:") << testing::PrintToString(got.text);
    }
};

Got line(std::string text) {
    return {std::move(text), false};
}
Got overlong(std::string text) {
    return {std::move(text), true};
}

// Reads input in chunks of at most chunk bytes, draining next() after each
// read the way a session does.
std::vector<Got> feed(ftp::LineBuffer& buffer, std::string_view input, std::size_t chunk) {
    std::vector<Got> lines;
    while (!input.empty()) {
        const std::span<char> space = buffer.prepare();
        const std::size_t n = std::min({chunk, space.size(), input.size()});
        std::copy_n(input.data(), n, space.data());
        buffer.commit(n);
        input.remove_prefix(n);
        while (const auto got = buffer.next())
            lines.push_back({std::string(got->text), got->overlong});
    }
    return lines;
}

std::vector<Got> feed(std::size_t capacity, std::string_view input, std::size_t chunk = 4096) {
    ftp::LineBuffer buffer(capacity);
    return feed(buffer, input, chunk);
}

using Lines = std::vector<Got>;

TEST(LineBuffer, SplitsOnCrlfAndBareLf) {
    EXPECT_EQ(feed(1024, "USER anonymous\r\nPASS guest@\nNOOP\r\n"),
              (Lines{line("USER anonymous"), line("PASS guest@"), line("NOOP")}));
}

TEST(LineBuffer, StripsCrOnlyDirectlyBeforeLf) {
    EXPECT_EQ(feed(1024, "A\rB\r\r\n"), (Lines{line("A\rB\r")}));
    EXPECT_EQ(feed(1024, "\r\n\n\r\r\n"), (Lines{line(""), line(""), line("\r")}));
}

TEST(LineBuffer, PipelinedLinesInOneCommit) {
    std::string input;
    Lines expected;
    for (int i = 0; i < 50; ++i) {
        input += "NOOP " + std::to_string(i) + "\r\n";
        expected.push_back(line("NOOP " + std::to_string(i)));
    }
    input += "QUI";  // a partial line after them
    ftp::LineBuffer buffer(1024);
    EXPECT_EQ(feed(buffer, input, input.size()), expected);
    EXPECT_EQ(buffer.pending(), 3u);
    EXPECT_EQ(feed(buffer, "T\r\n", 3), (Lines{line("QUIT")}));
    EXPECT_EQ(buffer.pending(), 0u);
}

TEST(LineBuffer, LineSplitByteByByte) {
    const std::string input = "RETR /pub/file name.txt\r\n";
    ftp::LineBuffer buffer(1024);
    for (std::size_t i = 0; i + 1 < input.size(); ++i) {
        EXPECT_EQ(feed(buffer, input.substr(i, 1), 1), Lines{});
        EXPECT_EQ(buffer.pending(), i + 1);
    }
    EXPECT_EQ(feed(buffer, "\n", 1), (Lines{line("RETR /pub/file name.txt")}));
    EXPECT_EQ(buffer.pending(), 0u);
}

TEST(LineBuffer, ViewsStayValidUntilPrepare) {
    ftp::LineBuffer buffer(64);
    const std::string input = "USER a\r\nPASS b\r\n";
    const std::span<char> space = buffer.prepare();
    std::copy(input.begin(), input.end(), space.begin());
    buffer.commit(input.size());
    const auto first = buffer.next();
    const auto second = buffer.next();
    ASSERT_TRUE(first && second);
    EXPECT_EQ(first->text, "USER a");
    EXPECT_EQ(second->text, "PASS b");
    EXPECT_FALSE(buffer.next());
}

TEST(LineBuffer, LineOfExactlyCapacityFits) {
    EXPECT_EQ(feed(8, "1234567\n123456\r\n"), (Lines{line("1234567"), line("123456")}));
}

TEST(LineBuffer, CrlfOneByteOverCapacityIsOverlong) {
    EXPECT_EQ(feed(8, "1234567\r\nNOOP\r\n"), (Lines{overlong("1234567\r"), line("NOOP")}));
}

TEST(LineBuffer, OverlongLineThenNormalLine) {
    EXPECT_EQ(feed(8, "123456789\r\nNOOP\r\n"), (Lines{overlong("12345678"), line("NOOP")}));
    EXPECT_EQ(feed(8, "12345678\nNOOP\n"), (Lines{overlong("12345678"), line("NOOP")}));
}

TEST(LineBuffer, OverlongReportedOnceAcrossManyReads) {
    const std::string input = std::string(100, 'x') + "\r\nQUIT\r\n";
    for (const std::size_t chunk : {1u, 3u, 7u, 8u, 200u}) {
        EXPECT_EQ(feed(8, input, chunk), (Lines{overlong("xxxxxxxx"), line("QUIT")}))
            << "chunk " << chunk;
    }
}

TEST(LineBuffer, OverlongAfterPipelinedLine) {
    EXPECT_EQ(feed(8, "PWD\r\nabcdefghijkl\nCDUP\n", 5),
              (Lines{line("PWD"), overlong("abcdefgh"), line("CDUP")}));
}

TEST(LineBuffer, ResultDoesNotDependOnChunking) {
    const std::string input = "USER a\r\n\r\n" + std::string(40, 'y') + "\nPASS b\n" +
                              std::string(16, 'z') + "\r\nPORT 10,0,0,1,4,1\r\nLIST\r\n";
    const Lines whole = feed(16, input);
    EXPECT_EQ(whole,
              (Lines{line("USER a"), line(""), overlong(std::string(16, 'y')), line("PASS b"),
                     overlong(std::string(16, 'z')), overlong("PORT 10,0,0,1,4,"), line("LIST")}));
    for (std::size_t chunk = 1; chunk <= 17; ++chunk) {
        EXPECT_EQ(feed(16, input, chunk), whole) << "chunk " << chunk;
    }
}

// A buffer that starts small and grows splits exactly like a fixed one, for
// every chunking, and its storage never exceeds the capacity.
TEST(LineBuffer, GrowingStorageSplitsLikeFixed) {
    const std::string input = "USER a\r\n\r\n" + std::string(40, 'y') + "\nPASS b\n" +
                              std::string(16, 'z') + "\r\nPORT 10,0,0,1,4,1\r\nLIST\r\n";
    const Lines whole = feed(16, input);
    for (const std::size_t initial : {1u, 2u, 3u, 5u, 8u}) {
        for (std::size_t chunk = 1; chunk <= 17; ++chunk) {
            ftp::LineBuffer buffer(16, initial);
            EXPECT_EQ(feed(buffer, input, chunk), whole)
                << "initial " << initial << " chunk " << chunk;
            EXPECT_LE(buffer.allocated(), 16u);
        }
    }
}

TEST(LineBuffer, StorageGrowsOnlyForALongLine) {
    ftp::LineBuffer buffer(8192, 1024);
    EXPECT_EQ(buffer.allocated(), 1024u);
    // Short lines, many of them, in reads as large as the buffer allows: no growth.
    std::string replies;
    for (int i = 0; i < 200; ++i) replies += "200 NOOP ok\r\n";
    EXPECT_EQ(feed(buffer, replies, 100000).size(), 200u);
    EXPECT_EQ(buffer.allocated(), 1024u);
    // One 3000-byte line: whole, in a buffer grown to 4096 (doubling), not 8192.
    const std::string path(2990, 'p');
    EXPECT_EQ(feed(buffer, "257 \"" + path + "\"\r\n", 700), (Lines{line("257 \"" + path + "\"")}));
    EXPECT_EQ(buffer.allocated(), 4096u);
    // Longer than the capacity: overlong, as with a fixed buffer.
    EXPECT_EQ(feed(buffer, std::string(9000, 'x') + "\r\n226 ok\r\n", 1000),
              (Lines{overlong(std::string(8192, 'x')), line("226 ok")}));
    EXPECT_EQ(buffer.allocated(), 8192u);
}

TEST(LineBuffer, PrepareIsNeverEmpty) {
    ftp::LineBuffer buffer(4);
    std::span<char> space = buffer.prepare();
    ASSERT_EQ(space.size(), 4u);
    std::copy_n("abcd", 4, space.data());
    buffer.commit(4);
    const auto got = buffer.next();
    ASSERT_TRUE(got);
    EXPECT_EQ(got->text, "abcd");
    EXPECT_TRUE(got->overlong);
    EXPECT_EQ(buffer.prepare().size(), 4u);
}

TEST(LineBuffer, PrepareDrainsWhenCallerSkippedNext) {
    // Contract violation: lines left in a full buffer are dropped, not kept.
    ftp::LineBuffer buffer(4);
    std::copy_n("a\nb\n", 4, buffer.prepare().data());
    buffer.commit(4);
    EXPECT_EQ(buffer.prepare().size(), 2u);
    EXPECT_EQ(buffer.pending(), 2u);
    EXPECT_EQ(buffer.next()->text, "b");
}

TEST(LineBuffer, CommitIsClampedToFreeSpace) {
    ftp::LineBuffer buffer(4);
    std::copy_n("ab\n", 3, buffer.prepare().data());
    buffer.commit(100);
    EXPECT_EQ(buffer.pending(), 4u);
    EXPECT_EQ(buffer.next()->text, "ab");
}

TEST(LineBuffer, ZeroCapacityIsRejected) {
    EXPECT_THROW(ftp::LineBuffer(0), std::invalid_argument);
}

}  // namespace
