// Replays fuzz inputs through the fuzz targets without libFuzzer, so the regular build (g++,
// and ASan+UBSan in the sanitizer build) checks every checked-in corpus and regression input.
// Usage: berth_fuzz_replay TARGET PATH... (files, or directories of inputs; a missing directory
// is a target without regression inputs yet).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

// Each target's LLVMFuzzerTestOneInput, renamed when built for this binary (see CMakeLists.txt).
extern "C" int BerthFuzz_config(const uint8_t* data, size_t size);
extern "C" int BerthFuzz_docker_request(const uint8_t* data, size_t size);
extern "C" int BerthFuzz_flex_call(const uint8_t* data, size_t size);
extern "C" int BerthFuzz_volume_spec(const uint8_t* data, size_t size);

namespace {

using Target = int (*)(const uint8_t*, size_t);

const std::map<std::string, Target> kTargets = {
    {"config", BerthFuzz_config},
    {"docker_request", BerthFuzz_docker_request},
    {"flex_call", BerthFuzz_flex_call},
    {"volume_spec", BerthFuzz_volume_spec},
};

std::vector<std::filesystem::path> Inputs(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) {
    return {};
  }
  if (!std::filesystem::is_directory(path)) {
    return {path};
  }
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(path)) {
    if (entry.is_regular_file()) {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || !kTargets.contains(argv[1])) {
    std::cerr << "usage: berth_fuzz_replay {config|docker_request|flex_call|volume_spec} PATH...\n";
    return 2;
  }
  const Target target = kTargets.at(argv[1]);
  size_t replayed = 0;
  for (int i = 2; i < argc; ++i) {
    for (const auto& file : Inputs(argv[i])) {
      std::ifstream in(file, std::ios::binary);
      if (!in) {
        std::cerr << "cannot read " << file << "\n";
        return 1;
      }
      const std::string data(std::istreambuf_iterator<char>(in), {});
      // A failure aborts in the target; naming the input first tells which one.
      std::cout << "replaying " << file.string() << std::endl;
      target(reinterpret_cast<const uint8_t*>(data.data()), data.size());
      ++replayed;
    }
  }
  if (replayed == 0) {
    std::cerr << "no inputs found\n";
    return 1;
  }
  std::cout << "replayed " << replayed << " inputs through " << argv[1] << "\n";
  return 0;
}
