// sparse_run.cpp: masks, local SGD and small checkpoints in `sprint train` (sparse_run.h).
#include "sprint/cli/sparse_run.h"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "sprint/core/error.h"
#include "sprint/data/output_file.h"
#include "sprint/train/sparse_checkpoint.h"

namespace sprint::cli {

SparseRun::SparseRun(const TrainArgs& a, nn::Model& model, optim::Optimizer& optimizer, dist::ProcessGroup* group)
    : args_(a), model_(model), optimizer_(optimizer), group_(group) {
  for (const char* name : {"--mask-update", "--mask-after-epochs", "--save-sparse"})
    SPRINT_CHECK(a.mask || !a.was_given(name), "{} needs --mask FILE", name);
  SPRINT_CHECK(a.mask_update == "freeze" || a.mask_update == "grad-only",
               "--mask-update {}: expected freeze or grad-only", a.mask_update);
  SPRINT_CHECK(a.mask_after_epochs >= 0, "--mask-after-epochs {}: expected a whole number >= 0", a.mask_after_epochs);
  SPRINT_CHECK(a.merge_every >= 0, "--merge-every {}: expected a whole number >= 0", a.merge_every);
  SPRINT_CHECK(a.merge_every == 0 || a.distributed,
               "--merge-every (local SGD) needs --distributed (several processes under mpirun)");
  SPRINT_CHECK(a.merge_every == 0 || (!a.was_given("--bucket-mb") && !a.was_given("--dist-overlap")),
               "--bucket-mb and --dist-overlap set the gradient all-reduce, which --merge-every replaces");
  SPRINT_CHECK(a.merge_every == 0 || !a.sync_batchnorm,
               "--sync-batchnorm needs gradient averaging: under --merge-every the ranks train apart");
  SPRINT_CHECK(a.merge_every == 0 || (!a.checkpoint_dir && !a.resume),
               "--checkpoint-dir and --resume need gradient averaging: under --merge-every every rank has weights and "
               "optimizer state of its own, which rank 0's checkpoint does not hold");
  SPRINT_CHECK(!a.mask || a.pipeline == 0, "--mask does not combine with --pipeline (each stage has its own optimizer)");
  SPRINT_CHECK(!a.mask || !a.cuda_graph, "--mask does not combine with --cuda-graph yet");
  if (a.save_sparse) {
    SPRINT_CHECK(a.init, "--save-sparse stores the masked entries on top of the weights the run started from: it "
                         "needs --init BASE");
    SPRINT_CHECK(a.mask_update == "freeze",
                 "--save-sparse needs --mask-update freeze (with grad-only the other entries move too)");
    SPRINT_CHECK(a.mask_after_epochs == 0, "--save-sparse needs --mask-after-epochs 0 (dense epochs move every entry)");
    data::check_output_path(*a.save_sparse, "--save-sparse");
  }
  if (a.mask) {
    mask_ = train::read_mask(*a.mask);
    try {
      train::check_mask_fits(*model.net, *mask_);
    } catch (const InvalidArgument& e) {
      SPRINT_THROW(InvalidArgument, "--mask {}: {}", *a.mask, e.what());
    }
    mode_ = a.mask_update == "freeze" ? UpdateMaskMode::kFreeze : UpdateMaskMode::kGradientOnly;
  }
  if (a.merge_every > 0 && group != nullptr) averager_ = std::make_unique<train::ModelAverager>(*model.net);
}

std::string SparseRun::describe() const {
  std::string out;
  if (mask_) {
    out = fmt::format("sparse training: {} mask {} keeps {} of {} parameters ({:.3g}%), {}{}", mask_->method,
                      *args_.mask, mask_->kept(), mask_->total(),
                      100.0 * static_cast<double>(mask_->kept()) / static_cast<double>(mask_->total()),
                      mode_ == UpdateMaskMode::kFreeze ? "entries outside frozen" : "gradient masked (grad-only)",
                      args_.mask_after_epochs > 0 ? fmt::format(", from epoch {}", args_.mask_after_epochs + 1) : "");
  }
  if (args_.merge_every > 0 && group_ != nullptr) {
    if (!out.empty()) out += "\n";
    out += fmt::format("local SGD: {} ranks train on their own and average their weights every {} steps{}",
                       group_->size(), args_.merge_every, mask_ ? " (the masked entries once the mask is on)" : "");
  }
  return out;
}

void SparseRun::start_epoch(const Stream& stream, int64_t epoch) {
  if (!mask_ || installed_ || epoch <= args_.mask_after_epochs) return;
  optimizer_.set_update_masks(stream, train::update_masks(*model_.net, *mask_), mode_);
  if (averager_) averager_->set_mask(&*mask_);
  installed_ = true;
  installed_at_epoch_ = epoch;
}

void SparseRun::finish(const Stream& stream, int64_t steps_done) {
  if (!args_.save_sparse || !mask_) return;
  if (group_ != nullptr && group_->rank() != 0) return;
  const train::SparseSaveResult r = train::save_sparse_weights(*args_.save_sparse, stream, *model_.net, args_.model,
                                                               steps_done, *mask_, *args_.init);
  std::printf("small checkpoint %s: %lld of %lld parameter values, %.3f MB against the full %.3f MB (%.2f%%)\n",
              args_.save_sparse->c_str(), static_cast<long long>(r.values), static_cast<long long>(r.dense_values),
              static_cast<double>(r.bytes) / 1e6, static_cast<double>(r.base_bytes) / 1e6,
              r.base_bytes > 0 ? 100.0 * static_cast<double>(r.bytes) / static_cast<double>(r.base_bytes) : 0.0);
  nlohmann::ordered_json j;
  j["path"] = *args_.save_sparse;
  j["values"] = r.values;
  j["dense_values"] = r.dense_values;
  j["bytes"] = r.bytes;
  j["full_bytes"] = r.base_bytes;
  sparse_json_ = j.dump();
}

std::string SparseRun::json() const {
  if (!mask_ && !averager_) return "";
  nlohmann::ordered_json j;
  if (mask_) {
    j["mask"] = *args_.mask;
    j["method"] = mask_->method;
    j["keep_ratio"] = mask_->keep_ratio;
    j["kept"] = mask_->kept();
    j["total"] = mask_->total();
    j["mask_hash"] = mask_->hash();
    j["mask_update"] = args_.mask_update;
    j["mask_from_epoch"] = installed_at_epoch_;
  }
  if (averager_) {
    nlohmann::ordered_json m;
    m["every"] = args_.merge_every;
    m["merges"] = averager_->merges();
    m["values_per_merge"] = averager_->values_per_merge();
    m["dense_values_per_merge"] = averager_->dense_values_per_merge();
    m["bytes_sent"] = averager_->bytes_sent();
    m["dense_bytes_for_as_many_merges"] = averager_->dense_bytes_per_merge() * averager_->merges();
    m["masked_merges"] = averager_->masked_merges();
    m["masked_bytes_sent"] = averager_->masked_bytes_sent();
    m["dense_bytes_for_the_masked_merges"] = averager_->dense_bytes_per_merge() * averager_->masked_merges();
    j["local_sgd"] = m;
  }
  if (!sparse_json_.empty()) j["small_checkpoint"] = nlohmann::ordered_json::parse(sparse_json_);
  return j.dump();
}

}  // namespace sprint::cli
