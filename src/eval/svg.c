/* svg.c: line and bar charts as plain SVG.  Written by hand rather than
 * through gnuplot: no dependency for `eef compare`, byte-identical output
 * for identical data, and a file small enough to read in a diff. */
#include "eval.h"

#include <math.h>
#include <string.h>

static const char *palette[] = { "#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                 "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f" };

enum { W = 640, H = 400, ML = 60, MR = 150, MT = 40, MB = 50 };

static void esc(eef_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': eef_buf_puts(b, "&lt;"); break;
        case '>': eef_buf_puts(b, "&gt;"); break;
        case '&': eef_buf_puts(b, "&amp;"); break;
        case '"': eef_buf_puts(b, "&quot;"); break;
        default: eef_buf_append(b, s, 1);
        }
    }
}

static void header(eef_buf *b, const char *title)
{
    eef_buf_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                      "font-family=\"sans-serif\" font-size=\"12\">\n", W, H);
    eef_buf_printf(b, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H);
    eef_buf_printf(b, "<text x=\"%d\" y=\"22\" font-size=\"15\" text-anchor=\"middle\">", W / 2);
    esc(b, title);
    eef_buf_puts(b, "</text>\n");
}

static eef_err finish(eef_buf *b, const char *path)
{
    eef_buf_puts(b, "</svg>\n");
    eef_err e = b->data ? eef_write_file_atomic(path, b->data, b->len) : EEF_ENOMEM;
    eef_buf_free(b);
    return e;
}

eef_err eef_svg_lines(const char *path, const char *title, const char *xlabel,
                      const char *ylabel, const eef_svg_series *s, size_t n, double ymin,
                      double ymax)
{
    double xmin = INFINITY, xmax = -INFINITY;
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < s[k].n; i++) {
            xmin = fmin(xmin, s[k].x[i]);
            xmax = fmax(xmax, s[k].x[i]);
        }
    if (!(xmax > xmin)) xmin = 0, xmax = xmax > 0 ? xmax : 1;
    if (!(ymax > ymin)) ymax = ymin + 1;
    const double pw = W - ML - MR, ph = H - MT - MB;
#define PX(v) (ML + ((v) - xmin) / (xmax - xmin) * pw)
#define PY(v) (MT + ph - ((v) - ymin) / (ymax - ymin) * ph)
    eef_buf b;
    eef_buf_init(&b);
    header(&b, title);
    /* axes, grid and ticks */
    for (int t = 0; t <= 5; t++) {
        double v = ymin + (ymax - ymin) * t / 5.0;
        eef_buf_printf(&b, "<line x1=\"%d\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
                       ML, ML + pw, PY(v), PY(v));
        eef_buf_printf(&b, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", ML - 6,
                       PY(v) + 4, round(v * 10) / 10);
    }
    for (double v = ceil(xmin); v <= xmax; v += 1)
        eef_buf_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n", PX(v),
                       MT + ph + 18, v);
    eef_buf_printf(&b, "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
                       "stroke=\"black\"/>\n", ML, MT, pw, ph);
    eef_buf_printf(&b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", ML + pw / 2, H - 10);
    esc(&b, xlabel);
    eef_buf_printf(&b, "</text>\n<text transform=\"translate(16,%.1f) rotate(-90)\" "
                       "text-anchor=\"middle\">", MT + ph / 2);
    esc(&b, ylabel);
    eef_buf_puts(&b, "</text>\n");
    for (size_t k = 0; k < n; k++) {
        const char *col = palette[k % EEF_ARRAY_LEN(palette)];
        eef_buf_printf(&b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", col);
        for (size_t i = 0; i < s[k].n; i++)
            eef_buf_printf(&b, "%s%.1f,%.1f", i ? " " : "", PX(s[k].x[i]), PY(s[k].y[i]));
        eef_buf_puts(&b, "\"/>\n");
        for (size_t i = 0; i < s[k].n; i++) {
            if (s[k].lo && s[k].hi)
                eef_buf_printf(&b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
                                   "stroke=\"%s\"/>\n", PX(s[k].x[i]), PX(s[k].x[i]),
                               PY(s[k].lo[i]), PY(s[k].hi[i]), col);
            eef_buf_printf(&b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>\n",
                           PX(s[k].x[i]), PY(s[k].y[i]), col);
        }
        eef_buf_printf(&b, "<rect x=\"%.0f\" y=\"%.0f\" width=\"12\" height=\"12\" fill=\"%s\"/>\n",
                       ML + pw + 12, MT + 10 + 20.0 * k, col);
        eef_buf_printf(&b, "<text x=\"%.0f\" y=\"%.0f\">", ML + pw + 30, MT + 21 + 20.0 * k);
        esc(&b, s[k].name);
        eef_buf_puts(&b, "</text>\n");
    }
#undef PX
#undef PY
    return finish(&b, path);
}

eef_err eef_svg_bars(const char *path, const char *title, const char *const *labels,
                     const char *const *groups, const double *values, size_t n_labels,
                     size_t n_groups)
{
    double vmax = 1;
    for (size_t i = 0; i < n_labels * n_groups; i++) vmax = fmax(vmax, values[i]);
    const double pw = W - ML - MR, ph = H - MT - MB - 40;
    eef_buf b;
    eef_buf_init(&b);
    header(&b, title);
    double slot = n_labels ? pw / (double)n_labels : pw, bw = slot * 0.8 / (double)(n_groups ? n_groups : 1);
    for (size_t i = 0; i < n_labels; i++) {
        for (size_t g = 0; g < n_groups; g++) {
            double v = values[i * n_groups + g], h = v / vmax * ph;
            double x = ML + slot * (double)i + slot * 0.1 + bw * (double)g;
            eef_buf_printf(&b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                               "fill=\"%s\"/>\n", x, MT + ph - h, bw, h,
                           palette[g % EEF_ARRAY_LEN(palette)]);
            eef_buf_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                               "font-size=\"10\">%g</text>\n", x + bw / 2, MT + ph - h - 3, v);
        }
        eef_buf_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"10\" "
                           "transform=\"rotate(-30 %.1f %.1f)\">", ML + slot * (i + 0.5), MT + ph + 14,
                       ML + slot * (i + 0.5), MT + ph + 14);
        esc(&b, labels[i]);
        eef_buf_puts(&b, "</text>\n");
    }
    eef_buf_printf(&b, "<line x1=\"%d\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n",
                   ML, ML + pw, MT + ph, MT + ph);
    for (size_t g = 0; g < n_groups; g++) {
        eef_buf_printf(&b, "<rect x=\"%.0f\" y=\"%.0f\" width=\"12\" height=\"12\" fill=\"%s\"/>\n",
                       ML + pw + 12, MT + 10 + 20.0 * g, palette[g % EEF_ARRAY_LEN(palette)]);
        eef_buf_printf(&b, "<text x=\"%.0f\" y=\"%.0f\">", ML + pw + 30, MT + 21 + 20.0 * g);
        esc(&b, groups[g]);
        eef_buf_puts(&b, "</text>\n");
    }
    return finish(&b, path);
}
