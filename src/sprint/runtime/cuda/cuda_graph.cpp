// cuda_graph.cpp: stream capture into cudaGraph_t, instantiation, in-place update and replay.
#include "sprint/runtime/cuda/cuda_graph.h"

#include <cuda_runtime_api.h>

#include "sprint/core/error.h"
#include "sprint/core/log.h"
#include "sprint/runtime/cuda/cuda_check.h"
#include "sprint/runtime/cuda/nvtx.h"

namespace sprint::cuda {

struct CudaGraph::Impl {
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  int device_index = -1;
  bool capturing = false;
  int64_t n_instantiations = 0;
  int64_t n_updates = 0;
  int64_t n_replays = 0;

  void destroy() noexcept {
    if (exec) (void)cudaGraphExecDestroy(exec);
    if (graph) (void)cudaGraphDestroy(graph);
    exec = nullptr;
    graph = nullptr;
    device_index = -1;
  }

  // Takes ownership of a freshly captured graph: update the existing exec in place when possible, otherwise
  // instantiate. On failure the previous graph/exec are kept and `captured` is destroyed.
  void adopt(cudaGraph_t captured, int device) {
    if (exec != nullptr && device == device_index) {
      cudaGraphExecUpdateResultInfo info{};
      const cudaError_t status = cudaGraphExecUpdate(exec, captured, &info);
      if (status == cudaSuccess) {
        if (graph) (void)cudaGraphDestroy(graph);
        graph = captured;
        ++n_updates;
        return;
      }
      (void)cudaGetLastError();  // update refused (topology changed): instantiate below
      log_debug("cuda graph: exec update refused (result {}), re-instantiating",
                static_cast<int>(info.result));
    }
    cudaGraphExec_t fresh = nullptr;
    const cudaError_t status = cudaGraphInstantiate(&fresh, captured, 0);
    if (status != cudaSuccess) {
      (void)cudaGraphDestroy(captured);
      SPRINT_CUDA_CHECK(status);
    }
    if (exec) (void)cudaGraphExecDestroy(exec);
    if (graph) (void)cudaGraphDestroy(graph);
    graph = captured;
    exec = fresh;
    device_index = device;
    ++n_instantiations;
  }
};

namespace {
// The native stream of a CUDA stream, refusing the legacy default stream and the per-thread default stream.
cudaStream_t capturable_stream(const Stream& stream, const char* what) {
  SPRINT_CHECK(stream.valid() && stream.device().is_cuda(), "{} needs a CUDA stream, got one of {}", what,
               stream.valid() ? device_name(stream.device()) : std::string("no device"));
  auto s = static_cast<cudaStream_t>(stream.native_handle());
  SPRINT_CHECK(
      s != nullptr && s != cudaStreamLegacy && s != cudaStreamPerThread,
      "{} refuses the default stream: use a context's compute stream or a stream from create_stream()", what);
  return s;
}
}  // namespace

CudaGraph::CudaGraph() : impl_(std::make_unique<Impl>()) {}

CudaGraph::~CudaGraph() {
  if (impl_) impl_->destroy();
}

CudaGraph::CudaGraph(CudaGraph&& other) noexcept = default;

CudaGraph& CudaGraph::operator=(CudaGraph&& other) noexcept {
  if (this != &other) {
    if (impl_) impl_->destroy();
    impl_ = std::move(other.impl_);
  }
  return *this;
}

GraphCapture CudaGraph::capture(const Stream& stream) {
  return GraphCapture(*this, stream);
}

bool CudaGraph::ready() const {
  return impl_ && impl_->exec != nullptr;
}

void CudaGraph::replay(const Stream& stream) {
  SPRINT_CHECK(ready(), "CudaGraph::replay before a capture finished");
  SPRINT_CHECK(!impl_->capturing, "CudaGraph::replay while this graph is being captured");
  cudaStream_t s = capturable_stream(stream, "CudaGraph::replay");
  SPRINT_CHECK(stream.device().index == impl_->device_index, "graph captured on cuda:{} replayed on {}",
               impl_->device_index, device_name(stream.device()));
  NvtxRange range("cuda.graph_replay");
  SPRINT_CUDA_CHECK(cudaGraphLaunch(impl_->exec, s));
  ++impl_->n_replays;
}

void CudaGraph::reset() {
  SPRINT_CHECK(!impl_ || !impl_->capturing, "CudaGraph::reset during an active capture");
  if (impl_)
    impl_->destroy();
  else
    impl_ = std::make_unique<Impl>();
}

size_t CudaGraph::n_nodes() const {
  if (!impl_ || !impl_->graph) return 0;
  size_t n = 0;
  SPRINT_CUDA_CHECK(cudaGraphGetNodes(impl_->graph, nullptr, &n));
  return n;
}

int64_t CudaGraph::n_instantiations() const {
  return impl_ ? impl_->n_instantiations : 0;
}
int64_t CudaGraph::n_updates() const {
  return impl_ ? impl_->n_updates : 0;
}
int64_t CudaGraph::n_replays() const {
  return impl_ ? impl_->n_replays : 0;
}

// ------------------------------------------------------------------------------------------------------------
// GraphCapture
// ------------------------------------------------------------------------------------------------------------

GraphCapture::GraphCapture(CudaGraph& graph, const Stream& stream)
    : graph_(graph.impl_.get()), stream_(nullptr), device_index_(-1) {
  SPRINT_CHECK(graph_ != nullptr, "capture into a moved-from CudaGraph");
  SPRINT_CHECK(!graph_->capturing, "this CudaGraph is already being captured");
  cudaStream_t s = capturable_stream(stream, "GraphCapture");
  device_index_ = stream.device().index;
  DeviceGuard device(device_index_);
  // Pending errors would make the capture fail in confusing places: report them now.
  SPRINT_CUDA_CHECK(cudaPeekAtLastError());
  SPRINT_CUDA_CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
  stream_ = s;
  active_ = true;
  graph_->capturing = true;
}

GraphCapture::~GraphCapture() {
  if (!active_) return;
  // Leaving without finish(): end the capture (it must end on this thread in thread-local mode) and drop it.
  cudaGraph_t g = nullptr;
  (void)cudaStreamEndCapture(static_cast<cudaStream_t>(stream_), &g);
  if (g) (void)cudaGraphDestroy(g);
  (void)cudaGetLastError();
  graph_->capturing = false;
  active_ = false;
}

void GraphCapture::finish() {
  SPRINT_CHECK(active_, "GraphCapture::finish called twice");
  active_ = false;
  graph_->capturing = false;
  DeviceGuard device(device_index_);
  cudaGraph_t g = nullptr;
  const cudaError_t status = cudaStreamEndCapture(static_cast<cudaStream_t>(stream_), &g);
  if (status != cudaSuccess) {
    if (g) (void)cudaGraphDestroy(g);
    (void)cudaGetLastError();
    SPRINT_THROW(
        BackendError,
        "CUDA graph capture failed: {} ({}). A capture-unsafe call ran while capturing (host "
        "synchronisation, a synchronous copy, work on the legacy default stream, or a side stream that "
        "did not rejoin the capturing stream)",
        cudaGetErrorName(status), cudaGetErrorString(status));
  }
  SPRINT_CHECK(g != nullptr, "CUDA graph capture produced no graph");
  graph_->adopt(g, device_index_);
}

}  // namespace sprint::cuda
