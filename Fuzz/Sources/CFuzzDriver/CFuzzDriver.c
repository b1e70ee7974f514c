// Header-only: LLVMFuzzerRunDriver is defined by the libFuzzer runtime (-sanitize=fuzzer).
#include "CFuzzDriver.h"
