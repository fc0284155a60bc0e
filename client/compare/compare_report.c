/* compare_report.c - the compare command's output: one Markdown table on
 * stdout (each figure a cell's median with its min-max, then per scenario
 * the servers ranked, a difference marked only where ranges do not
 * overlap), a CSV file, and two hand-written SVG bar charts, a bar for the
 * median and a line for the range (frames/s per scenario and model;
 * private bytes per idle connection). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "compare.h"

#ifdef _WIN32
#include <direct.h>
#define compare_mkdir_call(d) _mkdir(d)
#else
#include <sys/stat.h>
#define compare_mkdir_call(d) mkdir((d), 0777)
#endif

int compare_mkdir(const char *dir)
{
    FILE *probe;
    char path[1100];

    compare_mkdir_call(dir);   /* fails harmlessly when it already exists */
    snprintf(path, sizeof path, "%s/.compare-probe", dir);
    probe = fopen(path, "w");   /* the real test: can a file be written there */
    if (probe == NULL)
        return -1;
    fclose(probe);
    remove(path);
    return 0;
}

/* A figure, or "-" where it was not measured (negative). */
static const char *num(char *buf, size_t cap, double v, int decimals)
{
    if (v < 0)
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, "%.*f", decimals, v);
    return buf;
}

#define COMPARE_COLS (FIG_COUNT + 3)
#define CELL_TEXT 160

static const char *const col_names[COMPARE_COLS] = {
    "server", "scenario", "attempted", "held", "frames/s", "MiB/s", "p50 ms", "p99 ms",
    "max ms", "errors", "refused/stalled", "threads", "WS MiB", "private MiB",
    "private B/conn", "handles", "nonpaged KiB", "CPU ms", "result"
};

/* Decimals of each figure, in enum compare_fig order. */
static const int decimals[FIG_COUNT] = { 0, 0, 0, 2, 2, 2, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0 };

/* Figure k of the cell: "median (min-max)", the median alone where every
 * run gave the same figure (as printed), "-" where it was not measured. */
static void fig_text(const compare_cell *c, int k, char *buf, size_t cap)
{
    char lo[40], hi[40];
    size_t len;

    num(buf, cap, c->med[k], decimals[k]);
    if (c->med[k] < 0)
        return;
    num(lo, sizeof lo, c->lo[k], decimals[k]);
    num(hi, sizeof hi, c->hi[k], decimals[k]);
    len = strlen(buf);
    if (strcmp(lo, hi) != 0)
        snprintf(buf + len, cap - len, " (%s-%s)", lo, hi);
}

/* ok; a single run's note; or how many of the runs failed and the first's note. */
static void result_text(const compare_cell *c, char *buf, size_t cap)
{
    if (c->failed == 0)
        snprintf(buf, cap, "ok");
    else if (c->runs == 1)
        snprintf(buf, cap, "%s", c->note);
    else
        snprintf(buf, cap, "failed in %u of %u runs: %s", c->failed, c->runs, c->note);
}

/* The cell's columns as text, in col_names order. */
static void cells_text(const compare_cell *c, char out[COMPARE_COLS][CELL_TEXT])
{
    int k;

    snprintf(out[0], CELL_TEXT, "%s", c->server);
    snprintf(out[1], CELL_TEXT, "%s", c->sc->name);
    for (k = 0; k < FIG_COUNT; k++)
        fig_text(c, k, out[2 + k], CELL_TEXT);
    result_text(c, out[COMPARE_COLS - 1], CELL_TEXT);
}

/* The lines above the table: what a figure is. */
static void print_caption(unsigned repeat)
{
    if (repeat < 2) {
        printf("One run per cell (--repeat 1): single figures, no range, no ranking.\n");
        return;
    }
    printf("Each figure is the median of %u runs of its cell (servers interleaved round by "
           "round), min-max in parentheses where the runs differed. A cell with a failed "
           "run shows no figure, only the failure and how many of its runs failed.\n", repeat);
}

static void print_rows(const compare_cell *cells, unsigned n)
{
    static char c[COMPARE_COLS][CELL_TEXT];
    unsigned i, k;

    for (k = 0; k < COMPARE_COLS; k++)
        printf("| %s ", col_names[k]);
    printf("|\n");
    for (k = 0; k < COMPARE_COLS; k++)
        printf("|%s", k < 2 || k == COMPARE_COLS - 1 ? "---" : "---:");
    printf("|\n");
    for (i = 0; i < n; i++) {
        cells_text(&cells[i], c);
        for (k = 0; k < COMPARE_COLS; k++)
            printf("| %s ", c[k]);
        printf("|\n");
    }
}

/* The figure a scenario's servers are ranked by; -1: none. */
static int rank_fig(const compare_scenario *sc)
{
    if (sc->kind == SC_LOAD)
        return FIG_FPS;
    return sc->kind == SC_IDLE ? FIG_PER_CONN : -1;
}

/* The cells of scenario sc with figure fig measured, by median ascending
 * (insertion sort: a handful); returns their count. */
static unsigned ranked(const compare_cell *cells, unsigned n, const compare_scenario *sc,
                       int fig, const compare_cell **out)
{
    unsigned i, j, m = 0;

    for (i = 0; i < n; i++) {
        if (cells[i].sc != sc || cells[i].med[fig] < 0 || m >= COMPARE_MAX_SERVERS)
            continue;
        for (j = m++; j > 0 && out[j - 1]->med[fig] > cells[i].med[fig]; j--)
            out[j] = out[j - 1];
        out[j] = &cells[i];
    }
    return m;
}

/* "- pingpong100 (frames/s): a < b ~ c; no figure: d" */
static void print_ranking(const compare_cell *cells, unsigned n, const compare_scenario *sc)
{
    const compare_cell *order[COMPARE_MAX_SERVERS];
    int fig = rank_fig(sc);
    unsigned i, m;
    const char *sep = "; no figure: ";

    if (fig < 0)
        return;
    m = ranked(cells, n, sc, fig, order);
    printf("- %s (%s):", sc->name, col_names[2 + fig]);
    for (i = 0; i < m; i++)
        printf("%s%s", i == 0 ? " "
               : compare_ranges_overlap(order[i - 1], order[i], fig) ? " ~ " : " < ",
               order[i]->server);
    for (i = 0; i < n; i++)
        if (cells[i].sc == sc && cells[i].med[fig] < 0) {
            printf("%s%s", sep, cells[i].server);
            sep = ", ";
        }
    printf("\n");
}

/* After the table: per scenario, the servers ranked, a difference marked
 * only where the ranges do not overlap. */
static void print_rankings(const compare_cell *cells, unsigned n, unsigned repeat)
{
    unsigned i, j;

    if (repeat < 2)
        return;
    printf("\nRanking per scenario, lowest median first (frames/s: the fastest last; "
           "private B/conn: the least memory first). `a < b`: a's max is below b's min, "
           "a real difference; `a ~ b`: their ranges overlap, no difference shown. Each "
           "sign compares only the two servers beside it.\n\n");
    for (i = 0; i < n; i++) {
        for (j = 0; j < i && cells[j].sc != cells[i].sc; j++)
            continue;
        if (j == i)   /* the scenario's first cell */
            print_ranking(cells, n, cells[i].sc);
    }
}

void compare_print_table(const compare_cell *cells, unsigned n, unsigned repeat)
{
    printf("\n");
    print_caption(repeat);
    printf("\n");
    print_rows(cells, n);
    print_rankings(cells, n, repeat);
    fflush(stdout);
}

/* A CSV field: quoted when it holds a comma or a quote (notes may). */
static void csv_field(FILE *f, const char *s, int last)
{
    if (strpbrk(s, ",\"") != NULL) {
        fputc('"', f);
        for (; *s != '\0'; s++) {
            if (*s == '"')
                fputc('"', f);
            fputc(*s, f);
        }
        fputc('"', f);
    } else
        fputs(s, f);
    fputc(last ? '\n' : ',', f);
}

/* A CSV number: empty where not measured (reads better in a sheet). */
static void csv_num(FILE *f, double v, int decimals_of)
{
    char buf[40];

    num(buf, sizeof buf, v, decimals_of);
    csv_field(f, strcmp(buf, "-") == 0 ? "" : buf, 0);
}

/* The header: each figure as NAME, NAME_min, NAME_max. */
static void csv_header(FILE *f)
{
    char name[48];
    int k;

    csv_field(f, "server", 0);
    csv_field(f, "scenario", 0);
    csv_field(f, "runs", 0);
    csv_field(f, "failed_runs", 0);
    for (k = 0; k < FIG_COUNT; k++) {
        csv_field(f, col_names[2 + k], 0);
        snprintf(name, sizeof name, "%s_min", col_names[2 + k]);
        csv_field(f, name, 0);
        snprintf(name, sizeof name, "%s_max", col_names[2 + k]);
        csv_field(f, name, 0);
    }
    csv_field(f, "result", 1);
}

static void csv_row(FILE *f, const compare_cell *c)
{
    char buf[CELL_TEXT];
    int k;

    csv_field(f, c->server, 0);
    csv_field(f, c->sc->name, 0);
    snprintf(buf, sizeof buf, "%u", c->runs);
    csv_field(f, buf, 0);
    snprintf(buf, sizeof buf, "%u", c->failed);
    csv_field(f, buf, 0);
    for (k = 0; k < FIG_COUNT; k++) {
        csv_num(f, c->med[k], decimals[k]);
        csv_num(f, c->lo[k], decimals[k]);
        csv_num(f, c->hi[k], decimals[k]);
    }
    result_text(c, buf, sizeof buf);
    csv_field(f, buf, 1);
}

int compare_write_csv(const char *path, const compare_cell *cells, unsigned n)
{
    FILE *f = fopen(path, "w");
    unsigned i;

    if (f == NULL)
        return -1;
    csv_header(f);
    for (i = 0; i < n; i++)
        csv_row(f, &cells[i]);
    return fclose(f) == 0 ? 0 : -1;
}

/* A grouped bar chart: groups along x, one bar per series in each. */
typedef struct bar_chart {
    const char *title, *ylabel;
    const char *group[COMPARE_MAX_SCENARIOS];
    unsigned groups;
    const char *series[COMPARE_MAX_SERVERS];
    unsigned nseries;
    double value[COMPARE_MAX_SCENARIOS][COMPARE_MAX_SERVERS];   /* median; < 0: none */
    double lo[COMPARE_MAX_SCENARIOS][COMPARE_MAX_SERVERS];      /* the range line */
    double hi[COMPARE_MAX_SCENARIOS][COMPARE_MAX_SERVERS];
    int logscale;
} bar_chart;

/* One colour per model, in folder order, the same in every chart and run
 * (a --servers subset keeps each model's colour). */
static const char *const colour_models[COMPARE_MAX_SERVERS] = {
    "blocking", "select", "eventselect", "overlapped_event", "completion_routine", "iocp",
    "asyncselect", "threadpool"
};
static const char *const colours[COMPARE_MAX_SERVERS] = {
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#b07aa1", "#edc948",
    "#ff9da7"
};

static const char *colour_of(const char *model)
{
    unsigned i;

    for (i = 0; i < COMPARE_MAX_SERVERS; i++)
        if (strcmp(colour_models[i], model) == 0)
            return colours[i];
    return "#888";
}

#define SVG_W 960
#define SVG_H 460
#define PLOT_L 95
#define PLOT_T 50
#define PLOT_W 665
#define PLOT_H 320

/* The y range: powers of ten around the data (log), or 0 to a round top. */
static void y_range(const bar_chart *ch, double *lo, double *hi)
{
    double mn = 0, mx = 0;
    unsigned g, s;

    for (g = 0; g < ch->groups; g++)
        for (s = 0; s < ch->nseries; s++) {
            if (ch->value[g][s] <= 0)
                continue;
            if (ch->lo[g][s] > 0 && (mn == 0 || ch->lo[g][s] < mn))
                mn = ch->lo[g][s];
            if (ch->hi[g][s] > mx)
                mx = ch->hi[g][s];
        }
    if (mx <= 0)
        mx = mn = 1;
    if (ch->logscale) {
        *lo = floor(log10(mn));
        *hi = ceil(log10(mx));
        if (*hi <= *lo)
            *hi = *lo + 1;
    } else {
        double step = pow(10, floor(log10(mx)));

        *lo = 0;
        *hi = ceil(mx / step) * step;
    }
}

static double y_of(const bar_chart *ch, double v, double lo, double hi)
{
    double f = ch->logscale ? (log10(v) - lo) / (hi - lo) : (v - lo) / (hi - lo);

    if (f < 0)
        f = 0;
    return PLOT_T + PLOT_H * (1.0 - f);
}

/* Horizontal grid lines with their values, and the axis titles. */
static void svg_axes(FILE *f, const bar_chart *ch, double lo, double hi)
{
    unsigned i, steps = ch->logscale ? (unsigned)(hi - lo) : 5u;

    for (i = 0; i <= steps && i <= 12; i++) {
        double v = ch->logscale ? pow(10, lo + i) : lo + (hi - lo) * i / steps;
        double y = y_of(ch, v > 0 ? v : 1e-9, lo, hi);

        if (!ch->logscale && i == 0)
            y = PLOT_T + PLOT_H;
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
                PLOT_L, y, PLOT_L + PLOT_W, y);
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" font-size=\"12\">%.0f</text>\n",
                PLOT_L - 6, y + 4, v);
    }
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#000\"/>\n", PLOT_L,
            PLOT_T, PLOT_L, PLOT_T + PLOT_H);
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#000\"/>\n", PLOT_L,
            PLOT_T + PLOT_H, PLOT_L + PLOT_W, PLOT_T + PLOT_H);
    fprintf(f, "<text x=\"%d\" y=\"24\" font-size=\"16\" font-weight=\"bold\">%s</text>\n",
            PLOT_L, ch->title);
    fprintf(f, "<text x=\"%d\" y=\"42\" font-size=\"11\">bar: the median of the runs; "
            "line: their min to max</text>\n", PLOT_L);
    fprintf(f, "<text transform=\"translate(16,%d) rotate(-90)\" text-anchor=\"middle\" "
            "font-size=\"13\">%s%s</text>\n", PLOT_T + PLOT_H / 2, ch->ylabel,
            ch->logscale ? " (log scale)" : "");
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"13\">scenario</text>\n",
            PLOT_L + PLOT_W / 2, PLOT_T + PLOT_H + 50);
}

/* A vertical line from lo to hi at x, capped at both ends. */
static void svg_range(FILE *f, double x, double y_lo, double y_hi)
{
    fprintf(f, "<path d=\"M%.1f %.1fV%.1fM%.1f %.1fh6M%.1f %.1fh6\" stroke=\"#000\" "
            "fill=\"none\"/>\n", x, y_lo, y_hi, x - 3, y_lo, x - 3, y_hi);
}

/* Bar s of group g: the median, its range line and the median above both. */
static void svg_bar(FILE *f, const bar_chart *ch, unsigned g, unsigned s, double x, double bw,
                    double lo, double hi)
{
    double v = ch->value[g][s];
    double y = y_of(ch, v, lo, hi);
    double y_top = y_of(ch, ch->hi[g][s], lo, hi);

    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
            "<title>%s: %.0f (%.0f-%.0f)</title></rect>\n", x, y, bw - 2, PLOT_T + PLOT_H - y,
            colour_of(ch->series[s]), ch->series[s], v, ch->lo[g][s], ch->hi[g][s]);
    if (ch->hi[g][s] > ch->lo[g][s])
        svg_range(f, x + bw / 2 - 1, y_of(ch, ch->lo[g][s] > 0 ? ch->lo[g][s] : v, lo, hi),
                  y_top);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"9\">%.0f"
            "</text>\n", x + bw / 2 - 1, (y_top < y ? y_top : y) - 3, v);
}

/* The bars of one group, and its name below them. */
static void svg_group(FILE *f, const bar_chart *ch, unsigned g, double lo, double hi)
{
    double gw = (double)PLOT_W / ch->groups;
    double bw = gw * 0.8 / ch->nseries;
    double x0 = PLOT_L + gw * g + gw * 0.1;
    unsigned s;

    for (s = 0; s < ch->nseries; s++)
        if (ch->value[g][s] > 0)   /* else not measured, or failed: no bar */
            svg_bar(f, ch, g, s, x0 + bw * s, bw, lo, hi);
    fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-size=\"13\">%s</text>\n",
            PLOT_L + gw * g + gw / 2, PLOT_T + PLOT_H + 20, ch->group[g]);
}

static int svg_write(const char *path, const bar_chart *ch)
{
    FILE *f = fopen(path, "w");
    double lo = 0, hi = 1;
    unsigned g, s;

    if (f == NULL)
        return -1;
    y_range(ch, &lo, &hi);
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
            "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n", SVG_W, SVG_H, SVG_W, SVG_H);
    svg_axes(f, ch, lo, hi);
    for (g = 0; g < ch->groups; g++)
        svg_group(f, ch, g, lo, hi);
    for (s = 0; s < ch->nseries; s++) {   /* the legend, right of the plot */
        int y = PLOT_T + 10 + (int)s * 22;

        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"14\" fill=\"%s\"/>\n",
                PLOT_L + PLOT_W + 20, y, colour_of(ch->series[s]));
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"13\">%s</text>\n",
                PLOT_L + PLOT_W + 40, y + 12, ch->series[s]);
    }
    fputs("</svg>\n", f);
    return fclose(f) == 0 ? 0 : -1;
}

/* The index of name in list[0, *n), added at the end if absent. */
static unsigned index_of(const char **list, unsigned *n, unsigned cap, const char *name)
{
    unsigned i;

    for (i = 0; i < *n; i++)
        if (strcmp(list[i], name) == 0)
            return i;
    if (*n < cap)
        list[(*n)++] = name;
    return i < cap ? i : cap - 1;
}

/* Fills the chart from the cells whose scenario is of kind, with figure
 * fig of each (negative: no bar). */
static void chart_fill(bar_chart *ch, const compare_cell *cells, unsigned n, compare_kind kind,
                       int fig)
{
    unsigned i, g, s, k;

    for (g = 0; g < COMPARE_MAX_SCENARIOS; g++)
        for (k = 0; k < COMPARE_MAX_SERVERS; k++)
            ch->value[g][k] = ch->lo[g][k] = ch->hi[g][k] = -1;
    for (i = 0; i < n; i++) {
        s = index_of(ch->series, &ch->nseries, COMPARE_MAX_SERVERS, cells[i].server);
        if (cells[i].sc->kind != kind)
            continue;
        g = index_of(ch->group, &ch->groups, COMPARE_MAX_SCENARIOS, cells[i].sc->name);
        ch->value[g][s] = cells[i].med[fig];
        ch->lo[g][s] = cells[i].lo[fig];
        ch->hi[g][s] = cells[i].hi[fig];
    }
}

int compare_write_fps_svg(const char *path, const compare_cell *cells, unsigned n)
{
    static bar_chart ch;

    memset(&ch, 0, sizeof ch);
    ch.title = "Echo throughput by I/O model (checked replies)";
    ch.ylabel = "frames per second";
    ch.logscale = 1;
    chart_fill(&ch, cells, n, SC_LOAD, FIG_FPS);
    return svg_write(path, &ch);
}

int compare_write_idle_svg(const char *path, const compare_cell *cells, unsigned n)
{
    static bar_chart ch;

    memset(&ch, 0, sizeof ch);
    ch.title = "Server private memory per idle connection";
    ch.ylabel = "bytes per connection";
    ch.logscale = 1;   /* a thread's stack and a socket's context differ 1000-fold */
    chart_fill(&ch, cells, n, SC_IDLE, FIG_PER_CONN);
    return svg_write(path, &ch);
}
