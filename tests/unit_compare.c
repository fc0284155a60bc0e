/* unit_compare.c - a cell of `client compare` over its --repeat runs
 * (client/compare/compare_stats.c): the median (of an even count, the mean
 * of the middle two), min and max of each figure; a figure a run did not
 * measure (-1) left out; a cell with a failed run keeps no figure; and the
 * overlap of two ranges, which decides whether the table calls a
 * difference real. */
#include "compare.h"
#include "test.h"

static const compare_scenario scenario = { "pingpong100", SC_LOAD, 100, 64, 1 };

/* A passing run with the given frames/s and peak threads. */
static compare_row run_with(double fps, long threads)
{
    compare_row r;

    memset(&r, 0, sizeof r);
    snprintf(r.server, sizeof r.server, "iocp");
    r.sc = &scenario;
    r.ok = 1;
    r.fps = fps;
    r.threads = threads;
    r.private_mib = -1;   /* not measured in this scenario */
    return r;
}

static compare_cell cell_of(const double *fps, const long *threads, unsigned n)
{
    compare_cell c;
    unsigned i;

    memset(&c, 0, sizeof c);
    for (i = 0; i < n; i++) {
        compare_row r = run_with(fps[i], threads[i]);
        compare_cell_add(&c, &r, 1000);
    }
    compare_cell_finish(&c);
    return c;
}

static void test_odd_count(void)
{
    const double fps[] = { 300, 100, 200 };
    const long threads[] = { 5, -1, 7 };   /* one run did not see the count */
    compare_cell c = cell_of(fps, threads, 3);

    CHECK_EQ(c.runs, 3);
    CHECK_EQ(c.ms, 3000);
    CHECK_STR(c.server, "iocp");
    CHECK(c.med[FIG_FPS] == 200 && c.lo[FIG_FPS] == 100 && c.hi[FIG_FPS] == 300);
    CHECK(c.med[FIG_THREADS] == 6 && c.lo[FIG_THREADS] == 5 && c.hi[FIG_THREADS] == 7);
    CHECK(c.med[FIG_PRIVATE] == -1 && c.lo[FIG_PRIVATE] == -1);   /* never measured */
}

static void test_even_count(void)
{
    const double fps[] = { 400, 100, 300, 200 };
    const long threads[] = { 4, 4, 4, 4 };
    compare_cell c = cell_of(fps, threads, 4);

    CHECK(c.med[FIG_FPS] == 250);
    CHECK(c.lo[FIG_FPS] == 100 && c.hi[FIG_FPS] == 400);
}

/* One failed run: no median of the others, the first failure's note. */
static void test_failed_run(void)
{
    compare_cell c;
    compare_row r;

    memset(&c, 0, sizeof c);
    r = run_with(100, 4);
    compare_cell_add(&c, &r, 10);
    r = run_with(0, 4);
    r.ok = 0;
    snprintf(r.note, sizeof r.note, "server exit 4");
    compare_cell_add(&c, &r, 10);
    r.ok = 0;
    snprintf(r.note, sizeof r.note, "a later failure");
    compare_cell_add(&c, &r, 10);
    compare_cell_finish(&c);
    CHECK_EQ(c.failed, 2);
    CHECK_STR(c.note, "server exit 4");
    CHECK(c.med[FIG_FPS] == -1 && c.lo[FIG_FPS] == -1 && c.hi[FIG_FPS] == -1);
}

/* Runs past COMPARE_MAX_REPEAT count in the time, not in the figures. */
static void test_runs_capped(void)
{
    compare_cell c;
    unsigned i;

    memset(&c, 0, sizeof c);
    for (i = 0; i < COMPARE_MAX_REPEAT + 2; i++) {
        compare_row r = run_with(i < COMPARE_MAX_REPEAT ? 100 : 1e9, 4);
        compare_cell_add(&c, &r, 1);
    }
    compare_cell_finish(&c);
    CHECK_EQ(c.runs, COMPARE_MAX_REPEAT);
    CHECK_EQ(c.ms, COMPARE_MAX_REPEAT + 2);
    CHECK(c.hi[FIG_FPS] == 100);
}

static void test_overlap(void)
{
    const long threads[] = { 4, 4 };
    const double a_fps[] = { 100, 300 }, b_fps[] = { 250, 400 }, c_fps[] = { 301, 400 },
                 d_fps[] = { 300, 500 };
    compare_cell a = cell_of(a_fps, threads, 2), b = cell_of(b_fps, threads, 2),
                 c = cell_of(c_fps, threads, 2), d = cell_of(d_fps, threads, 2);

    CHECK(compare_ranges_overlap(&a, &b, FIG_FPS));
    CHECK(compare_ranges_overlap(&b, &a, FIG_FPS));
    CHECK(!compare_ranges_overlap(&a, &c, FIG_FPS));
    CHECK(!compare_ranges_overlap(&c, &a, FIG_FPS));
    CHECK(compare_ranges_overlap(&a, &d, FIG_FPS));   /* they touch at 300 */
    CHECK(compare_ranges_overlap(&a, &c, FIG_THREADS));   /* equal figures */
}

int main(void)
{
    test_odd_count();
    test_even_count();
    test_failed_run();
    test_runs_capped();
    test_overlap();
    return test_summary();
}
