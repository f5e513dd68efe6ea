// berth-csi's --endpoint: only an absolute unix socket path is served.
#include "plugin/csi/endpoint.h"

#include <gtest/gtest.h>

#include "tests/unit/expect_error.h"

namespace berth::csi {
namespace {

using berth::testing::ExpectError;
using berth::testing::kInvalid;

TEST(Endpoint, UnixSocketPathsInBothSpellings) {
  EXPECT_EQ(SocketPathOf("unix:///csi/csi.sock"), "/csi/csi.sock");
  EXPECT_EQ(SocketPathOf("unix:/var/lib/kubelet/plugins/berth/csi.sock"),
            "/var/lib/kubelet/plugins/berth/csi.sock");
}

TEST(Endpoint, NetworkAndRelativeEndpointsAreRefused) {
  ExpectError([] { SocketPathOf("tcp://0.0.0.0:10000"); }, kInvalid,
              {"not a unix socket", "unix:///path/to/csi.sock"});
  ExpectError([] { SocketPathOf("/csi/csi.sock"); }, kInvalid, {"not a unix socket"});
  ExpectError([] { SocketPathOf("unix://csi.sock"); }, kInvalid, {"no absolute path"});
  ExpectError([] { SocketPathOf("unix://"); }, kInvalid, {"no absolute path"});
}

TEST(Endpoint, APathTooLongForASocketIsRefused) {
  ExpectError([] { SocketPathOf("unix:///" + std::string(120, 'a')); }, kInvalid,
              {"longer than a unix socket allows"});
}

}  // namespace
}  // namespace berth::csi
