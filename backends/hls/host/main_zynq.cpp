// vaqf: host for embedded boards (Zynq UltraScale+ running Linux, PYNQ-style):
// the kernel is an IP in the programmable logic, started through its
// s_axilite registers; DDR is one physically contiguous buffer (u-dma-buf)
// shared by the CPU (host ops) and the kernel's four m_axi ports.
//
// The buffer is mapped cached (no O_SYNC): the host ops run at the CPU's
// speed, and the model asks for cache maintenance of exactly the buffers a
// host op reads from or writes for the FPGA (`to_cpu`: u-dma-buf
// sync_for_cpu, an invalidate; `to_device`: sync_for_device, a clean). Each
// kernel call writes only the descriptor registers that changed since the
// previous call; the four buffer pointers are written once.
//
//   build:  g++ -O2 -std=c++17 -Ikernel -Ihost host/main_zynq.cpp -o vaqf_zynq
//           (add -DVAQF_HLS_DRIVER -I<solution>/impl/misc/drivers/<top>_v1_0/src to take the register
//            offsets from the driver Vitis HLS generates; the defaults below are Vitis HLS 2022+'s)
//   run:    ./vaqf_zynq CTRL_PHYS_ADDR UDMABUF PARAMS IMAGES OUT_DIR
//           e.g. ./vaqf_zynq 0xA0000000 udmabuf0 weights/params.bin tb/input.bin out
//           (CTRL_PHYS_ADDR: the s_axilite base address of the block design, board/README.md)
//
// The bitstream must be loaded first (fpgautil / PYNQ Overlay). Untested in this
// repository (no board here); the C simulation exercises the same model code.
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "vaqf_model.h"

#ifdef VAQF_HLS_DRIVER
#include "xvaqf_top_hw.h"
#define VAQF_REG_X16 XVAQF_TOP_CONTROL_ADDR_X16_DATA
#define VAQF_REG_XQ XVAQF_TOP_CONTROL_ADDR_XQ_DATA
#define VAQF_REG_WT XVAQF_TOP_CONTROL_ADDR_WT_DATA
#define VAQF_REG_Y XVAQF_TOP_CONTROL_ADDR_Y_DATA
#define VAQF_REG_D XVAQF_TOP_CONTROL_ADDR_D_DATA
#else
// s_axilite map: 0x00 control (bit 0 ap_start, bit 1 ap_done), then 64-bit pointers (two
// registers and a gap each), then the descriptor (aggregated, compact=bit: the C layout).
#define VAQF_REG_X16 0x10
#define VAQF_REG_XQ 0x1c
#define VAQF_REG_WT 0x28
#define VAQF_REG_Y 0x34
#define VAQF_REG_D 0x40
#endif

namespace {

void* map_phys(uint64_t addr, size_t bytes, int flags) {
  const int fd = open("/dev/mem", O_RDWR | flags);
  if (fd < 0) return nullptr;
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)addr);
  close(fd);
  return p == MAP_FAILED ? nullptr : p;
}

using vaqf::host::read_file;

// DDR: the u-dma-buf buffer, mapped cached, as 64-bit sub-words.
struct ZynqMem {
  static const int port_bits = vaqf::model::kPortBits;
  uint64_t* w = nullptr;
  uint64_t get64(int64_t i) const { return w[i]; }
  void set64(int64_t i, uint64_t v) { w[i] = v; }
};

// u-dma-buf's manual cache maintenance (/sys/class/u-dma-buf/NAME/sync_*): offset, size and
// direction, then 1 to sync_for_cpu or sync_for_device.
class UdmabufSync {
 public:
  explicit UdmabufSync(const std::string& name) {
    const std::string dir = "/sys/class/u-dma-buf/" + name + "/";
    for (int i = 0; i < kFiles; ++i) fd_[i] = open((dir + kNames[i]).c_str(), O_WRONLY);
  }
  ~UdmabufSync() {
    for (int fd : fd_)
      if (fd >= 0) close(fd);
  }
  bool ok() const {
    for (int fd : fd_)
      if (fd < 0) return false;
    return true;
  }
  // direction: 1 DMA_TO_DEVICE (clean), 2 DMA_FROM_DEVICE (invalidate).
  void sync(uint64_t offset, uint64_t size, int direction, bool for_cpu) {
    put(kOffset, offset);
    put(kSize, size);
    put(kDirection, (uint64_t)direction);
    put(for_cpu ? kForCpu : kForDevice, 1);
  }

 private:
  enum { kOffset, kSize, kDirection, kForCpu, kForDevice, kFiles };
  static constexpr const char* kNames[kFiles] = {"sync_offset", "sync_size", "sync_direction", "sync_for_cpu",
                                                 "sync_for_device"};
  void put(int file, uint64_t v) {
    char text[32];
    const int n = snprintf(text, sizeof text, "%llu", (unsigned long long)v);
    if (pwrite(fd_[file], text, (size_t)n, 0) != n) {
      fprintf(stderr, "u-dma-buf: cannot write %s\n", kNames[file]);
      exit(2);
    }
  }
  int fd_[kFiles];
};

class ZynqDevice {
 public:
  static const int64_t kWordBytes = vaqf::model::kPortBits / 8;

  ZynqDevice(volatile uint32_t* regs, ZynqMem mem, uint64_t phys, UdmabufSync& sync)
      : regs_(regs), mem_(mem), sync_(sync) {
    for (int reg : {VAQF_REG_X16, VAQF_REG_XQ, VAQF_REG_WT, VAQF_REG_Y}) {  // one buffer behind all four ports
      regs_[reg / 4] = (uint32_t)phys;
      regs_[reg / 4 + 1] = (uint32_t)(phys >> 32);
    }
  }
  ZynqMem& mem() { return mem_; }

  void to_cpu(int64_t word, int64_t words) { sync_.sync(word * kWordBytes, words * kWordBytes, 2, true); }
  void to_device(int64_t word, int64_t words) { sync_.sync(word * kWordBytes, words * kWordBytes, 1, false); }

  void run(const vaqf::LayerDesc& d, int layer) {
    (void)layer;
    uint32_t words[kDescWords];
    memcpy(words, &d, sizeof words);
    for (int i = 0; i < kDescWords; ++i)
      if (!written_ || words[i] != last_[i]) regs_[VAQF_REG_D / 4 + i] = last_[i] = words[i];
    written_ = true;
    regs_[0] = 1;  // ap_start
    while (!(regs_[0] & 2)) {
    }  // ap_done
  }

 private:
  static const int kDescWords = sizeof(vaqf::LayerDesc) / 4;
  volatile uint32_t* regs_;
  ZynqMem mem_;
  UdmabufSync& sync_;
  uint32_t last_[kDescWords] = {};
  bool written_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  using namespace vaqf;
  if (argc != 6) {
    fprintf(stderr, "usage: %s CTRL_PHYS_ADDR UDMABUF PARAMS IMAGES OUT_DIR\n", argv[0]);
    return 2;
  }
  const uint64_t ctrl = strtoull(argv[1], nullptr, 0);
  const std::string buf = argv[2];
  std::vector<char> params, images, phys_text;
  if (!read_file(("/sys/class/u-dma-buf/" + buf + "/phys_addr").c_str(), phys_text)) {
    fprintf(stderr, "cannot read the physical address of %s (is the u-dma-buf module loaded?)\n", buf.c_str());
    return 2;
  }
  phys_text.push_back(0);
  const uint64_t phys = strtoull(phys_text.data(), nullptr, 0);
  const size_t bytes = (size_t)model::kDdrWords * (model::kPortBits / 8);
  const int fd = open(("/dev/" + buf).c_str(), O_RDWR);  // no O_SYNC: cached, synced explicitly
  void* ddr = fd < 0 ? MAP_FAILED : mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  volatile uint32_t* regs = (volatile uint32_t*)map_phys(ctrl, 0x10000, O_SYNC);
  UdmabufSync sync(buf);
  if (ddr == MAP_FAILED || !regs || !sync.ok()) {
    fprintf(stderr, "cannot map /dev/%s (%zu bytes needed), its sync_* files, or the control registers at 0x%llx\n",
            buf.c_str(), bytes, (unsigned long long)ctrl);
    return 2;
  }
  if (!read_file(argv[3], params) || params.size() != (size_t)model::kParamWords * (model::kPortBits / 8) ||
      !read_file(argv[4], images)) {
    fprintf(stderr, "cannot read %s or %s\n", argv[3], argv[4]);
    return 2;
  }
  ZynqMem mem;
  mem.w = (uint64_t*)ddr;
  ZynqDevice dev(regs, mem, phys, sync);
  // Parameters once, activations zeroed once (every image writes the same buffers), all cleaned to DDR.
  memset(ddr, 0, bytes);
  memcpy(ddr, params.data(), params.size());
  dev.to_device(0, model::kDdrWords);
  const size_t floats = (size_t)model::kImageC * model::kImageH * model::kImageW;
  const size_t n = images.size() / (floats * sizeof(float));
  std::vector<float> logits(n * model::kOutputs), image(floats);
  std::vector<int64_t> codes(n * model::kOutputs);
  for (size_t i = 0; i < n; ++i) {
    memcpy(image.data(), images.data() + i * floats * sizeof(float), floats * sizeof(float));
    model::run(dev, image.data(), logits.data() + i * model::kOutputs, codes.data() + i * model::kOutputs);
  }
  const std::string out = std::string(argv[5]) + "/logits.bin";
  FILE* f = fopen(out.c_str(), "wb");
  if (!f || fwrite(logits.data(), sizeof(float), logits.size(), f) != logits.size()) return 2;
  fclose(f);
  printf("%zu image(s): logits in %s\n", n, out.c_str());
  return 0;
}
