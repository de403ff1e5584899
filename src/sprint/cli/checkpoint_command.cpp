// checkpoint_command.cpp: `sprint checkpoint info`: the tensors and metadata of a safetensors file (or of a
// checkpoint directory's latest save and the training state beside it).
#include <cstdio>

#include "sprint/cli/commands.h"
#include "sprint/core/allocator.h"
#include "sprint/data/safetensors.h"
#include "sprint/train/checkpoint.h"

namespace sprint::cli {
namespace {

void print_file(const data::SafetensorsFile& f) {
  std::printf("%s\n", f.source().c_str());
  for (const auto& [key, value] : f.metadata()) {
    const std::string shown = value.size() > 200 ? value.substr(0, 200) + "..." : value;
    std::printf("  metadata %s: %s\n", key.c_str(), shown.c_str());
  }
  uint64_t total = 0;
  int64_t scalars = 0;
  std::printf("  %-48s %-5s %-20s %12s\n", "tensor", "dtype", "shape", "bytes");
  for (const data::SafetensorsFile::Entry& e : f.entries()) {
    std::printf("  %-48s %-5s %-20s %12llu\n", e.name.c_str(), std::string(data::safetensors_dtype_code(e.dtype)).c_str(),
                e.shape.to_string().c_str(), static_cast<unsigned long long>(e.size));
    total += e.size;
    scalars += e.shape.product();
  }
  std::printf("  %zu tensors, %lld values, %s\n", f.entries().size(), static_cast<long long>(scalars),
              format_bytes(static_cast<int64_t>(total)).c_str());
}

}  // namespace

int run_checkpoint_info(const CheckpointInfoArgs& a) {
  std::error_code ec;
  if (std::filesystem::is_directory(a.path, ec)) {
    const train::LoadedCheckpoint c = train::load_checkpoint(a.path);
    std::printf("checkpoint directory %s: latest save at step %lld (epoch %lld, batch %lld)\n", a.path.c_str(),
                static_cast<long long>(c.step), static_cast<long long>(c.run.trainer.epoch),
                static_cast<long long>(c.run.trainer.batch));
    print_file(c.weights);
    print_file(c.state);
    return 0;
  }
  print_file(data::read_safetensors(train::resolve_checkpoint(a.path)));
  return 0;
}

}  // namespace sprint::cli
