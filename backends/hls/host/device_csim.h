// vaqf: the C-simulation device — DDR is a vector of words, a kernel call is a
// function call to the top function (no Xilinx tools needed, g++ and the
// ap_int headers suffice). It also records each call's loop trip counts and
// counts the cache maintenance the model asks for (a board host does it; here
// memory is coherent, so it is only counted).
#ifndef VAQF_DEVICE_CSIM_H
#define VAQF_DEVICE_CSIM_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <vector>

#include "vaqf_top.h"

namespace vaqf {

#ifndef __SYNTHESIS__
extern Trips g_trips;
#endif

// DDR as 64-bit sub-words over the kernel's PORT_BITS-bit words.
class CsimMem {
 public:
  static const int port_bits = VAQF_PORT_BITS;
  static const int kSub = VAQF_PORT_BITS / 64;

  explicit CsimMem(int64_t words) : words_(words, word_t(0)) {}

  uint64_t get64(int64_t i) const {
    const int lo = (int)(i % kSub) * 64;
    return words_[i / kSub].range(lo + 63, lo).to_uint64();
  }
  void set64(int64_t i, uint64_t v) {
    const int lo = (int)(i % kSub) * 64;
    words_[i / kSub].range(lo + 63, lo) = v;
  }
  word_t* data() { return words_.data(); }
  int64_t size64() const { return (int64_t)words_.size() * kSub; }

 private:
  std::vector<word_t> words_;
};

class CsimDevice {
 public:
  explicit CsimDevice(int64_t words, int layers) : mem_(words), trips_(layers > 0 ? layers : 1) {}

  CsimMem& mem() { return mem_; }

  void run(const LayerDesc& d, int layer) {
    g_trips = Trips();
    word_t* ddr = mem_.data();
    VAQF_TOP(ddr, ddr, ddr, ddr, d);
    trips_[layer] = g_trips;
  }

  // Cache maintenance of words [word, word + words): counted only.
  struct SyncCount {
    int64_t calls = 0, words = 0;
  };
  void to_cpu(int64_t word, int64_t words) { count(to_cpu_, word, words); }
  void to_device(int64_t word, int64_t words) { count(to_device_, word, words); }
  const SyncCount& synced_to_cpu() const { return to_cpu_; }
  const SyncCount& synced_to_device() const { return to_device_; }

  const std::vector<Trips>& trips() const { return trips_; }

 private:
  void count(SyncCount& c, int64_t word, int64_t words) {
    if (word < 0 || words < 0 || word + words > mem_.size64() / CsimMem::kSub) {
      fprintf(stderr, "csim: sync of words [%lld, %lld) outside DDR\n", (long long)word, (long long)(word + words));
      abort();
    }
    ++c.calls;
    c.words += words;
  }

  CsimMem mem_;
  std::vector<Trips> trips_;
  SyncCount to_cpu_, to_device_;
};

}  // namespace vaqf

#endif
