// A FlexVolume call handed to the node's berthd: POST /Berth.Flex on berthd's socket, with
// {"Driver": "rbd", "Args": ["mountdevice", ...], "Config": "/etc/berth/berth.json",
// "MountNamespace": "mnt:[4026531840]"}. berthd
// runs it on its own engine (one Ceph session for every pod on the node) and answers with the
// FlexVolume reply itself. Private to berth: dockerd never sends it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "plugin/flex/call.h"

namespace berth::flex {

inline constexpr std::string_view kBerthdFlexTarget = "/Berth.Flex";

struct BerthdFlexRequest {
  std::string driver;             // "rbd", "rbd-node" or "nfs"
  std::vector<std::string> args;  // kubelet's, unchanged: the verb first
  std::string config_path;        // absolute: berthd serves only calls for its own config
  // berth-flex's (ThisMountNamespace): berthd serves only calls from its own mount namespace,
  // where its mounts are the ones kubelet sees (not a berthd in a container).
  std::string mount_namespace;
};

// This process's mount namespace, as /proc/self/ns/mnt names it; empty if it cannot be read.
std::string ThisMountNamespace();

std::string EncodeBerthdFlexRequest(const BerthdFlexRequest& request);
// Throws kInvalidArgument naming what is wrong: not a JSON object, a missing or non-string
// Driver, Config or MountNamespace, Args not an array of strings.
BerthdFlexRequest DecodeBerthdFlexRequest(const std::string& body);

// Whether berth-flex hands `call` to berthd: every verb but init (which berth-flex answers
// alone), and never a call whose options carry a pod secret (its key stays in the process
// kubelet started). kube-controller-manager's calls (attach, isattached, detach, expandvolume)
// go too where a berthd serves the same config; where none runs, nothing changes.
bool GoesToBerthd(const FlexCall& call);

}  // namespace berth::flex
