// The unit-test runner.
//
//   unit            run every group, each in its own process, and report
//   unit -l         list the groups: name, its file, and "bug: why" for a known bug
//   unit <name>     run one group in this process: exit 0 if it passed

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define NTESTS 512

static struct test {
	const char *name, *file, *bug;
	void (*fn)(void);
} tests[NTESTS];
static int ntests;

void
test_add(const char *name, void (*fn)(void), const char *file, const char *bug)
{
	for (int i = 0; i < ntests; i++)
		if (strcmp(tests[i].name, name) == 0) {
			fprintf(stderr, "unit: two groups named %s (%s, %s)\n", name, tests[i].file, file);
			exit(2);
		}
	if (ntests == NTESTS) {
		fprintf(stderr, "unit: more than %d groups\n", NTESTS);
		exit(2);
	}
	tests[ntests++] = (struct test){ name, file, bug, fn };
}

void
check_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	if (file != NULL)
		fprintf(stderr, "%s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

u8 *
exact(const void *p, u32 n)
{
	u8 *q = malloc(n);      // for 0 bytes, a block that no byte may be read from

	if (q == NULL && n > 0)
		check_fail(__FILE__, __LINE__, "out of memory");
	if (n > 0)
		memcpy(q, p, n);
	return q;
}

u32
unhex(u8 *out, const char *hex)
{
	u32 n = 0;
	int half = -1;

	for (; *hex; hex++) {
		int d;
		if (*hex >= '0' && *hex <= '9')
			d = *hex - '0';
		else if (*hex >= 'a' && *hex <= 'f')
			d = *hex - 'a' + 10;
		else if (*hex >= 'A' && *hex <= 'F')
			d = *hex - 'A' + 10;
		else
			continue;
		if (half < 0)
			half = d;
		else {
			out[n++] = half << 4 | d;
			half = -1;
		}
	}
	if (half >= 0)
		check_fail(__FILE__, __LINE__, "odd number of hex digits");
	return n;
}

bool
sameframe(const u8 *got, u32 gotlen, const u8 *want, u32 wantlen)
{
	for (u32 i = 0; i < gotlen && i < wantlen; i++)
		if (got[i] != want[i]) {
			fprintf(stderr, "frames differ at byte %u: got 0x%02x, want 0x%02x\n", i, got[i], want[i]);
			return false;
		}
	if (gotlen != wantlen) {
		fprintf(stderr, "frame lengths differ: got %u, want %u\n", gotlen, wantlen);
		return false;
	}
	return true;
}

static int
runall(const char *self)
{
	int failed = 0;

	for (int i = 0; i < ntests; i++) {
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			execl(self, self, tests[i].name, (char *)NULL);
			_exit(127);
		}
		int st;
		waitpid(pid, &st, 0);
		bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
		printf("%s %s%s\n", ok ? "ok  " : "FAIL", tests[i].name, tests[i].bug ? " (known bug)" : "");
		failed += !ok && !tests[i].bug;
	}
	printf("%d groups, %d failed\n", ntests, failed);
	return failed ? 1 : 0;
}

int
main(int argc, char **argv)
{
	if (argc == 1)
		return runall(argv[0]);
	if (strcmp(argv[1], "-l") == 0) {
		for (int i = 0; i < ntests; i++)
			printf("%s %s%s%s\n", tests[i].name, tests[i].file,
			    tests[i].bug ? " bug: " : "", tests[i].bug ? tests[i].bug : "");
		return 0;
	}
	for (int i = 0; i < ntests; i++)
		if (strcmp(tests[i].name, argv[1]) == 0) {
			tests[i].fn();
			return 0;
		}
	fprintf(stderr, "unit: no group named %s (unit -l lists them)\n", argv[1]);
	return 2;
}
