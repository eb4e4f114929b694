// A libllama.so that lets LLamaSharp 0.30.0 drive llama.cpp b10361 (the CUDA build node-llama-cpp 3.20.0 ships on
// npm): LLamaSharp resolves every llama_* function on this library's handle, and dlsym on a handle falls through to
// its DT_NEEDED, the real libllama. Only the functions whose ABI differs between LLamaSharp's llama.cpp commit and
// b10361 are defined here. For benchmarks on a GPU machine (loadtests/gpu/README.md); the server never ships it.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <libgen.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct llama_model;
struct llama_context;
struct llama_sampler;
struct llama_vocab;

// b10361 added uint32 n_outputs_max_per_seq after n_outputs_max (offset 24); LLamaSharp's struct lacks it, and its
// padding after defrag_thold (offset 84) keeps the size and every later offset the same. make-bundle.sh checks
// these offsets against b10361's llama.h.
enum { SIZE = 160, ADDED = 24, MOVED_END = 88 };
struct ls_context_params { unsigned char bytes[SIZE]; };
struct llama_context_params { unsigned char bytes[SIZE]; };

static void *real(const char *name) {
    void *f = dlsym(RTLD_NEXT, name);
    if (!f) fprintf(stderr, "llama_shim: the real library has no %s\n", name);
    return f;
}

// node-llama-cpp builds ggml with GGML_BACKEND_DL: llama_backend_init would look for the CPU and CUDA backend
// libraries beside the executable (dotnet's folder). Load them from this library's folder first.
__attribute__((constructor)) static void load_backends(void) {
    Dl_info info;
    if (!dladdr((void *)load_backends, &info)) return;
    char path[4096];
    snprintf(path, sizeof path, "%s", info.dli_fname);
    void (*load_all)(const char *) = (void (*)(const char *))real("ggml_backend_load_all_from_path");
    size_t (*count)(void) = (size_t (*)(void))real("ggml_backend_reg_count");
    if (load_all && count && count() == 0) load_all(dirname(path));
}

struct ls_context_params llama_context_default_params(void) {
    struct llama_context_params p = ((struct llama_context_params (*)(void))real("llama_context_default_params"))();
    struct ls_context_params l = {0};
    memcpy(l.bytes, p.bytes, ADDED);
    memcpy(l.bytes + ADDED, p.bytes + ADDED + 4, MOVED_END - ADDED - 4);
    memcpy(l.bytes + MOVED_END, p.bytes + MOVED_END, SIZE - MOVED_END);
    return l;
}

struct llama_context *llama_init_from_model(struct llama_model *model, struct ls_context_params l) {
    struct llama_context_params p = {0}; // n_outputs_max_per_seq 0: as many as n_outputs_max, the old behaviour
    memcpy(p.bytes, l.bytes, ADDED);
    memcpy(p.bytes + ADDED + 4, l.bytes + ADDED, MOVED_END - ADDED - 4);
    memcpy(p.bytes + MOVED_END, l.bytes + MOVED_END, SIZE - MOVED_END);
    return ((struct llama_context *(*)(struct llama_model *, struct llama_context_params))real("llama_init_from_model"))(model, p);
}

// b10361 added n_vocab, which bounds the window and sizes the backend-sampling buffers (not used here).
struct llama_sampler *llama_sampler_init_penalties(int32_t last_n, float repeat, float freq, float present) {
    return ((struct llama_sampler *(*)(int32_t, int32_t, float, float, float))real("llama_sampler_init_penalties"))(
        1 << 24, last_n, repeat, freq, present);
}

// b10361 dropped n_ctx_train.
struct llama_sampler *llama_sampler_init_dry(const struct llama_vocab *vocab, int32_t n_ctx_train, float multiplier,
                                             float base, int32_t allowed_length, int32_t last_n,
                                             const char **breakers, size_t n_breakers) {
    (void)n_ctx_train;
    return ((struct llama_sampler *(*)(const struct llama_vocab *, float, float, int32_t, int32_t, const char **, size_t))
                real("llama_sampler_init_dry"))(vocab, multiplier, base, allowed_length, last_n, breakers, n_breakers);
}
