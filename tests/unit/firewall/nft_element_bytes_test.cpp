// The bytes of each kind of element, as nf_tables stores them: fields in
// network byte order, each padded to 4 bytes inside a concatenation.
#include "firewall/nft_element_bytes.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "firewall/nft_element_writer.hpp"

namespace firewall::nft {
namespace {

using Bytes = std::vector<std::uint8_t>;

TEST(NftElementBytes, Ipv4KeyAndPortValue) {
    const ElementBytes b = element_bytes({"pasv4", "198.18.0.2 . 198.19.0.80 . 50001", "50001"});
    EXPECT_EQ(b.key, (Bytes{198, 18, 0, 2, 198, 19, 0, 80, 0xc3, 0x51, 0, 0}));
    EXPECT_EQ(b.data, (Bytes{0xc3, 0x51}));  // a lone inet_service: 2 bytes
}

TEST(NftElementBytes, SetElementHasNoData) {
    const ElementBytes b = element_bytes({"karm4", "198.18.1.2 . 198.18.1.1 . 21", {}});
    EXPECT_EQ(b.key, (Bytes{198, 18, 1, 2, 198, 18, 1, 1, 0, 21, 0, 0}));
    EXPECT_TRUE(b.data.empty());
}

TEST(NftElementBytes, ConcatenatedValuesArePadded) {
    const ElementBytes b =
        element_bytes({"kdnat4", "198.18.1.2 . 198.18.1.1 . 50010", "198.18.2.2 . 2121"});
    EXPECT_EQ(b.data, (Bytes{198, 18, 2, 2, 0x08, 0x49, 0, 0}));
    const ElementBytes a =
        element_bytes({"ksnat4", "198.18.1.2 . 198.18.2.2 . 2121", "198.18.2.1"});
    EXPECT_EQ(a.data, (Bytes{198, 18, 2, 1}));
}

TEST(NftElementBytes, Ipv6) {
    const ElementBytes b =
        element_bytes({"kdnat6", "fd18:2::2 . fd18:2::1 . 50011", "fd18:1::2 . 41000"});
    ASSERT_EQ(b.key.size(), 36u);
    EXPECT_EQ(b.key[0], 0xfd);
    EXPECT_EQ(b.key[1], 0x18);
    EXPECT_EQ(b.key[15], 2);
    EXPECT_EQ(b.key[31], 1);
    EXPECT_EQ((Bytes{b.key.begin() + 32, b.key.end()}), (Bytes{0xc3, 0x5b, 0, 0}));
    ASSERT_EQ(b.data.size(), 20u);
    EXPECT_EQ((Bytes{b.data.begin() + 16, b.data.end()}), (Bytes{0xa0, 0x28, 0, 0}));
}

TEST(NftElementBytes, MalformedTextIsRefused) {
    EXPECT_THROW(element_bytes({"act4", "198.18.0.2 . 70000", {}}), Error);
    EXPECT_THROW(element_bytes({"act4", "198.18.0.2 . nonsense", {}}), Error);
    EXPECT_THROW(element_bytes({"act4", "198.18.0.2 .  . 21", {}}), Error);
    EXPECT_THROW(element_bytes({"act4", "", {}}), Error);
}

// What a refused batch is logged as: the nft commands of the same changes.
TEST(NftElementBatch, ReadsAsTheNftCommandsOfTheSameChanges) {
    const Element armed{"karm4", "198.18.1.2 . 198.18.1.1 . 50010", {}};
    const Element nat{"ksnat4", "198.18.1.2 . 198.18.2.2 . 2121", "198.18.2.1"};
    ElementBatch batch;
    batch.remove(nat);
    batch.add(armed, std::chrono::seconds(0), 7);
    batch.erase(armed);
    EXPECT_EQ(batch.nft_text("t"),
              remove_commands("t", nat) + add_command("t", armed, std::chrono::seconds(1), 7) +
                  "delete element inet t karm4 { 198.18.1.2 . 198.18.1.1 . 50010 }\n");
    EXPECT_FALSE(batch.empty());
    EXPECT_TRUE(ElementBatch{}.empty());
}

}  // namespace
}  // namespace firewall::nft
