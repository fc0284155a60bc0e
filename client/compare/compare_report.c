/* compare_report.c - the compare command's output: one Markdown table on
 * stdout, a CSV file, and two hand-written SVG bar charts (frames/s per
 * scenario and model; private bytes per idle connection). */
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

#define COMPARE_COLS 19

static const char *const col_names[COMPARE_COLS] = {
    "server", "scenario", "attempted", "held", "frames/s", "MiB/s", "p50 ms", "p99 ms",
    "max ms", "errors", "refused/stalled", "threads", "WS MiB", "private MiB",
    "private B/conn", "handles", "nonpaged KiB", "CPU ms", "result"
};

/* The row's cells as text, in col_names order. */
static void cells(const compare_row *r, char out[COMPARE_COLS][112])
{
    snprintf(out[0], 112, "%s", r->server);
    snprintf(out[1], 112, "%s", r->sc->name);
    snprintf(out[2], 112, "%u", r->attempted);
    snprintf(out[3], 112, "%u", r->held);
    num(out[4], 112, r->fps, 0);
    num(out[5], 112, r->mib_s, 2);
    num(out[6], 112, r->p50_ms, 2);
    num(out[7], 112, r->p99_ms, 2);
    num(out[8], 112, r->max_ms, 1);
    snprintf(out[9], 112, "%llu", (unsigned long long)r->errors);
    num(out[10], 112, (double)r->failed_conns, 0);
    num(out[11], 112, (double)r->threads, 0);
    num(out[12], 112, r->ws_mib, 1);
    num(out[13], 112, r->private_mib, 1);
    num(out[14], 112, r->bytes_per_conn, 0);
    num(out[15], 112, (double)r->handles, 0);
    num(out[16], 112, r->nonpaged_kib, 0);
    num(out[17], 112, (double)r->cpu_ms, 0);
    snprintf(out[18], 112, "%s", r->ok ? "ok" : r->note);
}

void compare_print_table(const compare_row *rows, unsigned n)
{
    static char c[COMPARE_COLS][112];
    unsigned i, k;

    printf("\n");
    for (k = 0; k < COMPARE_COLS; k++)
        printf("| %s ", col_names[k]);
    printf("|\n");
    for (k = 0; k < COMPARE_COLS; k++)
        printf("|%s", k < 2 || k == COMPARE_COLS - 1 ? "---" : "---:");
    printf("|\n");
    for (i = 0; i < n; i++) {
        cells(&rows[i], c);
        for (k = 0; k < COMPARE_COLS; k++)
            printf("| %s ", c[k]);
        printf("|\n");
    }
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

int compare_write_csv(const char *path, const compare_row *rows, unsigned n)
{
    static char c[COMPARE_COLS][112];
    FILE *f = fopen(path, "w");
    unsigned i, k;

    if (f == NULL)
        return -1;
    for (k = 0; k < COMPARE_COLS; k++)
        csv_field(f, col_names[k], k == COMPARE_COLS - 1);
    for (i = 0; i < n; i++) {
        cells(&rows[i], c);
        for (k = 0; k < COMPARE_COLS; k++)   /* "-" reads better as empty in a sheet */
            csv_field(f, strcmp(c[k], "-") == 0 ? "" : c[k], k == COMPARE_COLS - 1);
    }
    return fclose(f) == 0 ? 0 : -1;
}

/* A grouped bar chart: groups along x, one bar per series in each. */
typedef struct bar_chart {
    const char *title, *ylabel;
    const char *group[COMPARE_MAX_SCENARIOS];
    unsigned groups;
    const char *series[COMPARE_MAX_SERVERS];
    unsigned nseries;
    double value[COMPARE_MAX_SCENARIOS][COMPARE_MAX_SERVERS];   /* < 0: none */
    int logscale;
} bar_chart;

/* One colour per model, in folder order, the same in every chart and run
 * (a --servers subset keeps each model's colour). */
static const char *const colour_models[COMPARE_MAX_SERVERS] = {
    "blocking", "select", "eventselect", "overlapped_event", "completion_routine", "iocp"
};
static const char *const colours[COMPARE_MAX_SERVERS] = {
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#b07aa1"
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
            double v = ch->value[g][s];

            if (v > 0 && (mn == 0 || v < mn))
                mn = v;
            if (v > mx)
                mx = v;
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
    fprintf(f, "<text x=\"%d\" y=\"28\" font-size=\"16\" font-weight=\"bold\">%s</text>\n",
            PLOT_L, ch->title);
    fprintf(f, "<text transform=\"translate(16,%d) rotate(-90)\" text-anchor=\"middle\" "
            "font-size=\"13\">%s%s</text>\n", PLOT_T + PLOT_H / 2, ch->ylabel,
            ch->logscale ? " (log scale)" : "");
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"13\">scenario</text>\n",
            PLOT_L + PLOT_W / 2, PLOT_T + PLOT_H + 50);
}

/* The bars of one group, each with its value above it. */
static void svg_group(FILE *f, const bar_chart *ch, unsigned g, double lo, double hi)
{
    double gw = (double)PLOT_W / ch->groups;
    double bw = gw * 0.8 / ch->nseries;
    double x0 = PLOT_L + gw * g + gw * 0.1;
    unsigned s;

    for (s = 0; s < ch->nseries; s++) {
        double v = ch->value[g][s];
        double x = x0 + bw * s;
        double y;

        if (v <= 0)
            continue;   /* not measured, or failed: no bar */
        y = y_of(ch, v, lo, hi);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
                "<title>%s: %.0f</title></rect>\n", x, y, bw - 2, PLOT_T + PLOT_H - y,
                colour_of(ch->series[s]), ch->series[s], v);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"9\">%.0f"
                "</text>\n", x + bw / 2 - 1, y - 3, v);
    }
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

/* Fills the chart from the rows whose scenario is of kind, with the value
 * pick() takes from each (negative: no bar). */
static void chart_fill(bar_chart *ch, const compare_row *rows, unsigned n, compare_kind kind,
                       double (*pick)(const compare_row *))
{
    unsigned i, g, s, k;

    for (g = 0; g < COMPARE_MAX_SCENARIOS; g++)
        for (k = 0; k < COMPARE_MAX_SERVERS; k++)
            ch->value[g][k] = -1;
    for (i = 0; i < n; i++) {
        s = index_of(ch->series, &ch->nseries, COMPARE_MAX_SERVERS, rows[i].server);
        if (rows[i].sc->kind != kind)
            continue;
        g = index_of(ch->group, &ch->groups, COMPARE_MAX_SCENARIOS, rows[i].sc->name);
        ch->value[g][s] = rows[i].ok ? pick(&rows[i]) : -1;
    }
}

static double pick_fps(const compare_row *r)
{
    return r->fps;
}

static double pick_per_conn(const compare_row *r)
{
    return r->bytes_per_conn;
}

int compare_write_fps_svg(const char *path, const compare_row *rows, unsigned n)
{
    static bar_chart ch;

    memset(&ch, 0, sizeof ch);
    ch.title = "Echo throughput by I/O model (checked replies)";
    ch.ylabel = "frames per second";
    ch.logscale = 1;
    chart_fill(&ch, rows, n, SC_LOAD, pick_fps);
    return svg_write(path, &ch);
}

int compare_write_idle_svg(const char *path, const compare_row *rows, unsigned n)
{
    static bar_chart ch;

    memset(&ch, 0, sizeof ch);
    ch.title = "Server private memory per idle connection";
    ch.ylabel = "bytes per connection";
    ch.logscale = 1;   /* a thread's stack and a socket's context differ 1000-fold */
    chart_fill(&ch, rows, n, SC_IDLE, pick_per_conn);
    return svg_write(path, &ch);
}
