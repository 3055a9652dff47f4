// What every fuzz target shares: libFuzzer's entry point, and ENSURE(),
// an invariant that aborts (a crash, for libFuzzer) with its text when
// it does not hold.

#ifndef FUZZ_H
#define FUZZ_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "types.h"

int LLVMFuzzerTestOneInput(const u8 *data, size_t size);

#define ENSURE(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

#endif
