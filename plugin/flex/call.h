// A FlexVolume call as kubelet and kube-controller-manager make it: the verb, its positional
// arguments in kubelet's order, and the options JSON (see docs/kubernetes.md).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace berth::flex {

using FlexOptions = std::map<std::string, std::string>;

struct FlexCall {
  std::string verb;
  // Named after kubelet's arguments; each is set only for the verbs that take it.
  std::string node_name;          // attach, isattached, detach
  std::string device;             // waitforattach, mountdevice, expandfs
  std::string device_mount_path;  // mountdevice, unmountdevice, expandvolume, expandfs
  std::string target_path;        // mount, unmount (the pod's volume directory)
  std::string volume_name;        // detach (kubelet's pvOrVolumeName)
  uint64_t new_size = 0;          // expandvolume, expandfs
  uint64_t old_size = 0;
  std::optional<FlexOptions> options;  // verbs that take the JSON
};

// Whether kubelet's contract has this verb (init, attach, ..., expandfs).
bool IsKnownVerb(const std::string& verb);

// Parses `args` (everything after the executable). An unknown verb is kNotFound (answered
// "Not supported"); a wrong argument count, a relative path, malformed JSON, a JSON value
// that is not a string, or a bad size is kInvalidArgument naming what was expected.
FlexCall ParseCall(const std::vector<std::string>& args);

// The options JSON: one object whose values are all strings.
FlexOptions ParseOptions(const std::string& json);

}  // namespace berth::flex
