// percentile.c: the percentiles the measuring apps report (lateness.c,
// prodcons.c), from the samples they took in the guest.
//
// Nearest rank: the p-th percentile of n sorted samples is the least
// sample that at least p% of them do not exceed, a[ceil(p * n / 100) - 1],
// always a sample that was taken, never an interpolation.

#include "types.h"
#include "defs.h"

// Heapsort, ascending: a[0 .. n) in place, O(n log n), no memory more.
// sift() lets a[i] sink into the heap a[i .. n).
static void
sift(u64 *a, u64 i, u64 n)
{
	for (u64 child; (child = 2 * i + 1) < n; i = child) {
		if (child + 1 < n && a[child + 1] > a[child])
			child++;
		if (a[i] >= a[child])
			return;
		u64 t = a[i];
		a[i] = a[child];
		a[child] = t;
	}
}

static void
sort(u64 *a, u64 n)
{
	for (u64 i = n / 2; i-- > 0;)
		sift(a, i, n);
	for (u64 end = n; end-- > 1;) {
		u64 t = a[0];
		a[0] = a[end];
		a[end] = t;
		sift(a, 0, end);
	}
}

static u64
rank(const u64 *a, u64 n, u64 p)
{
	u64 r = (p * n + 99) / 100;

	return a[r > 0 ? r - 1 : 0];
}

// Sort a[0 .. n), n > 0, and return its minimum, p50, p90, p99 and maximum.
struct percentiles
percentiles(u64 *a, u64 n)
{
	sort(a, n);
	return (struct percentiles){ a[0], rank(a, n, 50), rank(a, n, 90), rank(a, n, 99), a[n - 1] };
}

// One console line: head, then "min=.. p50=.. p90=.. p99=.. max=.. ns",
// or "-" for each if there were no samples.  One kprintf, so no other
// CPU's line can land inside it.
void
percentiles_print(const char *head, const struct percentiles *p)
{
	if (p == NULL)
		kprintf("%s min=- p50=- p90=- p99=- max=- ns\n", head);
	else
		kprintf("%s min=%lu p50=%lu p90=%lu p99=%lu max=%lu ns\n",
		    head, p->min, p->p50, p->p90, p->p99, p->max);
}
