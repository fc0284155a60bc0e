/* options.h - the command line every server shares (SPEC section 2). */
#ifndef OPTIONS_H
#define OPTIONS_H

#define SUITE_VERSION "1.0.0"

/* A switch a model offers (--opt NAME), to show what a feature buys. */
typedef struct server_switch {
    const char *name;
    const char *help;
} server_switch;

#define OPTIONS_MAX_SWITCHES 16

/* What a model tells the parser about itself. */
typedef struct server_model {
    const char *name;            /* "blocking": the folder name without its number */
    const char *summary;         /* one line for --help */
    int default_max_clients;     /* the documented capacity */
    int default_threads;         /* 0 when the model has no pool */
    const char *threads_help;    /* what --threads means here, or NULL: unused */
    const server_switch *switches; /* ended by a NULL name, or NULL: none */
} server_model;

typedef struct server_options {
    char bind_addr[64];
    unsigned short port;
    int max_clients;
    int threads;
    char stop_event[128];
    int max_seconds;
    int log_level;               /* enum log_level */
    unsigned switches;           /* bit i: --opt model->switches[i].name */
} server_options;

enum options_result {
    OPTIONS_RUN,       /* parsed; run the server */
    OPTIONS_EXIT_OK,   /* --help or --version printed; exit 0 */
    OPTIONS_USAGE      /* error and usage printed on stderr; exit 2 */
};

enum options_result options_parse(const server_model *model, int argc, char **argv,
                                  server_options *out);

#endif
