// vaqf: the C-simulation test bench. Loads weights/params.bin into simulated
// DDR, runs every image of tb/input.bin through the model (kernel calls are
// plain function calls), writes the logits, their integer codes and each
// kernel call's loop trip counts and counted cycles, and compares the codes with the integer
// reference's (tb/golden_codes.bin) when present; sync.csv counts the cache
// maintenance the host asked for per image.
//
//   csim PARAMS IMAGES OUT_DIR [GOLDEN_CODES]
//
// Exit status: 0 when every code matches (or no golden file), 1 on a mismatch,
// 2 on bad input.
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <string>
#include <vector>

#include "device_csim.h"
#include "vaqf_model.h"

namespace {

using vaqf::host::read_file;

bool write_file(const std::string& path, const void* data, size_t bytes) {
  FILE* f = fopen(path.c_str(), "wb");
  if (!f) return false;
  const size_t put = fwrite(data, 1, bytes, f);
  return fclose(f) == 0 && put == bytes;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace vaqf;
  if (argc < 4) {
    fprintf(stderr, "usage: %s PARAMS IMAGES OUT_DIR [GOLDEN_CODES]\n", argv[0]);
    return 2;
  }
  std::vector<char> params, images, golden;
  if (!read_file(argv[1], params) || params.size() != (size_t)model::kParamWords * (model::kPortBits / 8)) {
    fprintf(stderr, "csim: cannot read %s, or it is not %lld words\n", argv[1], (long long)model::kParamWords);
    return 2;
  }
  const size_t image_floats = (size_t)model::kImageC * model::kImageH * model::kImageW;
  if (!read_file(argv[2], images) || images.size() % (image_floats * sizeof(float)) != 0) {
    fprintf(stderr, "csim: cannot read %s, or it is not a whole number of %zu-float images\n", argv[2], image_floats);
    return 2;
  }
  const size_t n_images = images.size() / (image_floats * sizeof(float));
  const bool check = argc > 4;
  if (check && (!read_file(argv[4], golden) || golden.size() != n_images * model::kOutputs * sizeof(int64_t))) {
    fprintf(stderr, "csim: cannot read %s, or it does not hold %zu x %d codes\n", argv[4], n_images,
            model::kOutputs);
    return 2;
  }
  const std::string out_dir = argv[3];

  std::vector<float> logits(n_images * model::kOutputs);
  std::vector<int64_t> codes(n_images * model::kOutputs);
  std::vector<Trips> trips;
  CsimDevice::SyncCount to_cpu, to_device;  // cache maintenance per image (the first image's)
  std::vector<float> image(image_floats);
  // One device for all images, parameters loaded once: as the board hosts run (buffers are reused).
  CsimDevice dev(model::kDdrWords, model::kLayers);
  for (int64_t k = 0; k < (int64_t)(params.size() / 8); ++k) {
    uint64_t v;
    memcpy(&v, params.data() + 8 * k, 8);  // little-endian 64-bit sub-words
    dev.mem().set64(k, v);
  }
  for (size_t i = 0; i < n_images; ++i) {
    memcpy(image.data(), images.data() + i * image_floats * sizeof(float), image_floats * sizeof(float));
    model::run(dev, image.data(), logits.data() + i * model::kOutputs, codes.data() + i * model::kOutputs);
    if (i == 0) {
      trips = dev.trips();
      to_cpu = dev.synced_to_cpu();
      to_device = dev.synced_to_device();
    }
  }

  if (!write_file(out_dir + "/logits.bin", logits.data(), logits.size() * sizeof(float)) ||
      !write_file(out_dir + "/codes.bin", codes.data(), codes.size() * sizeof(int64_t))) {
    fprintf(stderr, "csim: cannot write to %s\n", out_dir.c_str());
    return 2;
  }
  std::string csv = "layer,name,tiles,steps,compute,x_words,w_words,y_words,bursts,cycles\n";
  for (int l = 0; l < model::kLayers; ++l) {
    char line[512];
    const Trips& t = trips[l];
    snprintf(line, sizeof line, "%d,\"%s\",%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld\n", l, model::kLayerNames[l],
             (long long)t.tiles, (long long)t.steps, (long long)t.compute, (long long)t.x_words,
             (long long)t.w_words, (long long)t.y_words, (long long)t.bursts, (long long)t.cycles);
    csv += line;
  }
  if (!write_file(out_dir + "/trips.csv", csv.data(), csv.size())) return 2;
  char sync[256];
  const int n_sync = snprintf(sync, sizeof sync, "direction,calls,words\nto_cpu,%lld,%lld\nto_device,%lld,%lld\n",
                              (long long)to_cpu.calls, (long long)to_cpu.words, (long long)to_device.calls,
                              (long long)to_device.words);
  if (!write_file(out_dir + "/sync.csv", sync, (size_t)n_sync)) return 2;

  if (!check) {
    printf("csim: %zu image(s), no golden codes to compare\n", n_images);
    return 0;
  }
  size_t mismatches = 0;
  for (size_t k = 0; k < codes.size(); ++k) {
    int64_t want;
    memcpy(&want, golden.data() + 8 * k, 8);
    if (want != codes[k]) {
      if (mismatches < 10)
        fprintf(stderr, "csim: image %zu output %zu: got %lld, want %lld\n", k / model::kOutputs,
                k % model::kOutputs, (long long)codes[k], (long long)want);
      ++mismatches;
    }
  }
  if (mismatches) {
    printf("csim: FAIL: %zu of %zu output codes differ from the integer reference\n", mismatches, codes.size());
    return 1;
  }
  printf("csim: PASS: %zu image(s), all %zu output codes bit-identical to the integer reference\n", n_images,
         codes.size());
  return 0;
}
