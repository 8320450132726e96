// vaqf: host for Alveo cards (XRT native API). The kernel is built with
// `run_hls.tcl` for the card's part (export: .xo) and linked with v++; all four
// m_axi ports must be connected to the same DDR bank (they address one buffer):
//
//   v++ -l -t hw --platform <platform> vaqf_top.xo -o vaqf.xclbin
//       --connectivity.sp vaqf_top_1.x16:DDR[0] --connectivity.sp vaqf_top_1.xq:DDR[0]
//       --connectivity.sp vaqf_top_1.wt:DDR[0]  --connectivity.sp vaqf_top_1.y:DDR[0]
//   g++ -O2 -std=c++17 -Ikernel -Ihost -I$XILINX_XRT/include host/main_xrt.cpp
//       -L$XILINX_XRT/lib -lxrt_coreutil -pthread -o vaqf_xrt
//   ./vaqf_xrt vaqf.xclbin weights/params.bin tb/input.bin out
//
// (board/vaqf.cfg holds these connectivity lines for `v++ -l --config board/vaqf.cfg`.)
//
// Host ops run on the buffer's host mapping; only the buffers a host op reads
// from the card or writes for it are synced (`bo.sync` of their byte range),
// never the whole buffer per kernel call. Untested in this repository (no card
// here); the C simulation exercises the same model code.
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <string>
#include <vector>

#include "vaqf_model.h"
#include "xrt/xrt_bo.h"
#include "xrt/xrt_device.h"
#include "xrt/xrt_kernel.h"

#ifndef VAQF_TOP_NAME
#define VAQF_TOP_NAME "vaqf_top"
#endif

namespace {

using vaqf::host::read_file;

struct XrtMem {
  static const int port_bits = vaqf::model::kPortBits;
  uint64_t* w = nullptr;
  uint64_t get64(int64_t i) const { return w[i]; }
  void set64(int64_t i, uint64_t v) { w[i] = v; }
};

class XrtDevice {
 public:
  XrtDevice(xrt::kernel kernel, xrt::bo bo) : kernel_(kernel), bo_(bo) { mem_.w = bo_.map<uint64_t*>(); }
  XrtMem& mem() { return mem_; }

  static const int64_t kWordBytes = vaqf::model::kPortBits / 8;

  void to_cpu(int64_t word, int64_t words) {
    bo_.sync(XCL_BO_SYNC_BO_FROM_DEVICE, (size_t)(words * kWordBytes), (size_t)(word * kWordBytes));
  }
  void to_device(int64_t word, int64_t words) {
    bo_.sync(XCL_BO_SYNC_BO_TO_DEVICE, (size_t)(words * kWordBytes), (size_t)(word * kWordBytes));
  }

  void run(const vaqf::LayerDesc& d, int layer) {
    (void)layer;
    xrt::run run = kernel_(bo_, bo_, bo_, bo_, d);
    run.wait();
  }

 private:
  xrt::kernel kernel_;
  xrt::bo bo_;
  XrtMem mem_;
};

}  // namespace

int main(int argc, char** argv) {
  using namespace vaqf;
  if (argc != 5) {
    fprintf(stderr, "usage: %s XCLBIN PARAMS IMAGES OUT_DIR\n", argv[0]);
    return 2;
  }
  std::vector<char> params, images;
  if (!read_file(argv[2], params) || params.size() != (size_t)model::kParamWords * (model::kPortBits / 8) ||
      !read_file(argv[3], images)) {
    fprintf(stderr, "cannot read %s or %s\n", argv[2], argv[3]);
    return 2;
  }
  xrt::device device(0);
  const xrt::uuid uuid = device.load_xclbin(argv[1]);
  xrt::kernel kernel(device, uuid, VAQF_TOP_NAME);
  const size_t bytes = (size_t)model::kDdrWords * (model::kPortBits / 8);
  xrt::bo bo(device, bytes, kernel.group_id(0));
  XrtDevice dev(kernel, bo);
  const size_t floats = (size_t)model::kImageC * model::kImageH * model::kImageW;
  const size_t n = images.size() / (floats * sizeof(float));
  std::vector<float> logits(n * model::kOutputs), image(floats);
  std::vector<int64_t> codes(n * model::kOutputs);
  // Parameters once, activations zeroed once (every image writes the same buffers), then to the card.
  memset(dev.mem().w, 0, bytes);
  memcpy(dev.mem().w, params.data(), params.size());
  dev.to_device(0, model::kDdrWords);
  for (size_t i = 0; i < n; ++i) {
    memcpy(image.data(), images.data() + i * floats * sizeof(float), floats * sizeof(float));
    model::run(dev, image.data(), logits.data() + i * model::kOutputs, codes.data() + i * model::kOutputs);
  }
  const std::string out = std::string(argv[4]) + "/logits.bin";
  FILE* f = fopen(out.c_str(), "wb");
  if (!f || fwrite(logits.data(), sizeof(float), logits.size(), f) != logits.size()) return 2;
  fclose(f);
  printf("%zu image(s): logits in %s\n", n, out.c_str());
  return 0;
}
