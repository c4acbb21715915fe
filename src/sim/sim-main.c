// SPDX-License-Identifier: GPL-2.0-or-later
/* dfuflash-sim: run a command against virtual USB DFU devices.  Parses the command line,
 * builds the device models, serves them through umockdev (sim-usbfs.c) to COMMAND run
 * under the umockdev preload, and returns COMMAND's exit status. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

/* glib defines MIN/MAX too (with #undef first), so it comes after macro.h */
#include "macro.h"

#include <glib-unix.h>
#include <glib.h>

#include "sim-api.h"
#include "sim-usbfs.h"
#include "util.h"

#define PRELOAD_LIB "libumockdev-preload.so.0"
#define REEXEC_ENV "DFUFLASH_SIM_REEXEC"
#define MAX_DEVICES 16

struct flash_in {
	char *file;
	uint32_t address;
};

struct sim_opts {
	const char *profile;
	GString *faults;
	struct flash_in *flash_in;
	size_t n_flash_in;
	const char *flash_out;
	const char *log;
	double time_scale;
	unsigned devices;
	uint32_t arrive_ms; /* --arrive: device k plugs in (k-1) x this after the start */
	uint32_t change_ms; /* --change-events: a "change" uevent per device this often */
	bool hold;
	char **command;
};

/* One log sink per device; with several devices each line gets a "dev" member. */
struct log_sink {
	FILE *f;
	unsigned index;
	bool tag;
};

struct run_ctx {
	GMainLoop *loop;
	GPid child;
	bool child_running;
	int status;
	bool hold;
};

static void usage(FILE *f)
{
	fputs("Usage: dfuflash-sim [OPTION]... -- COMMAND [ARG]...\n"
	      "       dfuflash-sim [OPTION]... --hold\n"
	      "Run COMMAND against virtual USB DFU devices served through umockdev.\n\n"
	      "  -p, --profile=P        device profile (default stm32f405; see --list-profiles)\n"
	      "  -f, --fault=F          settings and faults, comma-separated; repeatable\n"
	      "      --flash-in=FILE@ADDR  load FILE's raw bytes at ADDR before the start\n"
	      "      --flash-out=FILE   write the main flash region (raw) when COMMAND ends\n"
	      "      --log=FILE         write the JSON-lines transaction log to FILE\n"
	      "      --time-scale=X     scale datasheet durations (default 1.0; 0 = instant)\n"
	      "      --devices=N        number of devices (default 1, at most 16)\n"
	      "      --arrive=MS        device 1 is there at the start, device K plugs in\n"
	      "                         (K-1) x MS milliseconds later (a station's tray)\n"
	      "      --change-events=MS send a \"change\" uevent for every device each MS\n"
	      "                         milliseconds (stress for hotplug listeners)\n"
	      "      --hold             keep the bus until SIGINT/SIGTERM; print its environment\n"
	      "      --list-profiles    list the profiles and exit\n"
	      "  -h, --help             show this help\n"
	      "  -V, --version          show the version\n",
	      f);
}

static void list_profiles(void)
{
	for (const char *const *n = sim_profile_names(); *n; n++)
		printf("%-20s %s\n", *n, sim_profile_description(*n));
}

static int parse_flash_in(const char *arg, struct flash_in *out)
{
	const char *at = strrchr(arg, '@');

	if (!at || at == arg || util_parse_u32(at + 1, &out->address) < 0)
		return -EINVAL;
	out->file = g_strndup(arg, (gsize)(at - arg));
	return 0;
}

enum {
	OPT_FLASH_IN = 256,
	OPT_FLASH_OUT,
	OPT_LOG,
	OPT_TIME_SCALE,
	OPT_DEVICES,
	OPT_ARRIVE,
	OPT_CHANGE_EVENTS,
	OPT_HOLD,
	OPT_LIST
};

static const struct option longopts[] = {
	{ "profile", required_argument, NULL, 'p' },
	{ "fault", required_argument, NULL, 'f' },
	{ "flash-in", required_argument, NULL, OPT_FLASH_IN },
	{ "flash-out", required_argument, NULL, OPT_FLASH_OUT },
	{ "log", required_argument, NULL, OPT_LOG },
	{ "time-scale", required_argument, NULL, OPT_TIME_SCALE },
	{ "devices", required_argument, NULL, OPT_DEVICES },
	{ "arrive", required_argument, NULL, OPT_ARRIVE },
	{ "change-events", required_argument, NULL, OPT_CHANGE_EVENTS },
	{ "hold", no_argument, NULL, OPT_HOLD },
	{ "list-profiles", no_argument, NULL, OPT_LIST },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ 0 },
};

/* The option parsers below return -1 to continue, or an exit status. */

static int add_flash_in(const char *arg, struct sim_opts *o)
{
	o->flash_in = g_renew(struct flash_in, o->flash_in, o->n_flash_in + 1);
	if (parse_flash_in(arg, &o->flash_in[o->n_flash_in]) < 0) {
		fprintf(stderr, "dfuflash-sim: --flash-in '%s': expected FILE@ADDRESS\n", arg);
		return EX_USAGE;
	}
	o->n_flash_in++;
	return -1;
}

static int parse_time_scale(const char *arg, struct sim_opts *o)
{
	char *end = NULL;

	errno = 0;
	o->time_scale = strtod(arg, &end);
	if (errno || end == arg || *end || !isfinite(o->time_scale) || o->time_scale < 0) {
		fprintf(stderr, "dfuflash-sim: --time-scale '%s': expected a number >= 0\n", arg);
		return EX_USAGE;
	}
	return -1;
}

static int parse_devices(const char *arg, struct sim_opts *o)
{
	uint32_t n;

	if (util_parse_u32(arg, &n) < 0 || n < 1 || n > MAX_DEVICES) {
		fprintf(stderr, "dfuflash-sim: --devices '%s': expected 1 to %d\n", arg,
			MAX_DEVICES);
		return EX_USAGE;
	}
	o->devices = n;
	return -1;
}

/* --arrive and --change-events: 1 to 3600000 ms into *@ms; -1, or EX_USAGE. */
static int parse_ms(const char *name, const char *arg, uint32_t *ms)
{
	if (util_parse_u32(arg, ms) < 0 || *ms < 1 || *ms > 3600000) {
		fprintf(stderr, "dfuflash-sim: --%s '%s': expected 1 to 3600000 (ms)\n", name, arg);
		return EX_USAGE;
	}
	return -1;
}

/* Option @c with argument @arg, as getopt_long() returned them. */
static int parse_option(int c, const char *arg, struct sim_opts *o)
{
	switch (c) {
	case 'p':
		o->profile = arg;
		return -1;
	case 'f':
		if (o->faults->len)
			g_string_append_c(o->faults, ',');
		g_string_append(o->faults, arg);
		return -1;
	case OPT_FLASH_IN:
		return add_flash_in(arg, o);
	case OPT_FLASH_OUT:
		o->flash_out = arg;
		return -1;
	case OPT_LOG:
		o->log = arg;
		return -1;
	case OPT_TIME_SCALE:
		return parse_time_scale(arg, o);
	case OPT_DEVICES:
		return parse_devices(arg, o);
	case OPT_ARRIVE:
		return parse_ms("arrive", arg, &o->arrive_ms);
	case OPT_CHANGE_EVENTS:
		return parse_ms("change-events", arg, &o->change_ms);
	case OPT_HOLD:
		o->hold = true;
		return -1;
	case OPT_LIST:
		list_profiles();
		return EX_OK;
	case 'h':
		usage(stdout);
		return EX_OK;
	case 'V':
		printf("dfuflash-sim %s\n", DFUFLASH_VERSION);
		return EX_OK;
	default:
		usage(stderr);
		return EX_USAGE;
	}
}

/* What the options leave to check: COMMAND against --hold, the profile, the faults. */
static int check_args(const struct sim_opts *o)
{
	char errbuf[256] = "";

	if (o->hold == (*o->command != NULL)) {
		fprintf(stderr, "dfuflash-sim: %s\n",
			o->hold ? "--hold takes no COMMAND" : "no COMMAND given (put it after --)");
		usage(stderr);
		return EX_USAGE;
	}
	if (!sim_profile_description(o->profile)) {
		fprintf(stderr, "dfuflash-sim: unknown profile '%s' (see --list-profiles)\n",
			o->profile);
		return EX_USAGE;
	}
	if (sim_faults_check(o->faults->str, errbuf, sizeof(errbuf)) < 0) {
		fprintf(stderr, "dfuflash-sim: --fault: %s\n",
			errbuf[0] ? errbuf : "invalid fault string");
		fprintf(stderr, "hint: tokens are separated by commas or blanks; FAULTS in "
				"dfuflash-sim(1) lists each one and its values\n");
		return EX_USAGE;
	}
	return -1;
}

/* Returns -1 to continue, or an exit status. */
static int parse_args(int argc, char **argv, struct sim_opts *o)
{
	int c, r;

	while ((c = getopt_long(argc, argv, "+p:f:hV", longopts, NULL)) != -1) {
		r = parse_option(c, optarg, o);
		if (r >= 0)
			return r;
	}
	o->command = argv + optind;
	return check_args(o);
}

/*
 * The model options of device @number (1, 2, ...): a '#' in the value of a
 * serial= token becomes the number, so that --devices N can give each device
 * its own serial.  Returns a new string.
 */
static char *device_faults(const char *faults, unsigned number)
{
	GString *out = g_string_new(NULL);
	bool in_serial = false;

	for (const char *s = faults; *s; s++) {
		if (s == faults || strchr(", \t", s[-1]))
			in_serial = strncmp(s, "serial=", 7) == 0;
		if (*s == '#' && in_serial)
			g_string_append_printf(out, "%u", number);
		else
			g_string_append_c(out, *s);
	}
	return g_string_free(out, FALSE);
}

/*
 * The uevents that announce removal and re-enumeration are resolved by libudev in this
 * process (umockdev_testbed_uevent()), so it must itself run under the umockdev preload.
 * Re-exec once with it added to LD_PRELOAD, as umockdev-wrapper would.
 */
static int ensure_preload(char **argv)
{
	const char *cur = g_getenv("LD_PRELOAD");
	g_autofree char *preload = NULL;

	if (cur && strstr(cur, "libumockdev-preload.so")) {
		g_unsetenv(REEXEC_ENV);
		return 0;
	}
	if (g_getenv(REEXEC_ENV)) {
		fprintf(stderr, "dfuflash-sim: cannot run under %s\n", PRELOAD_LIB);
		return EX_UNAVAILABLE;
	}
	/* the sanitizer runtime must stay first in the list */
	preload = cur && *cur ? g_strconcat(cur, ":", PRELOAD_LIB, NULL) : g_strdup(PRELOAD_LIB);
	g_setenv("LD_PRELOAD", preload, TRUE);
	g_setenv(REEXEC_ENV, "1", TRUE);
#if defined(__SANITIZE_ADDRESS__)
	{
		/* ASan refuses a preloaded library ahead of its runtime */
		const char *asan = g_getenv("ASAN_OPTIONS");
		g_autofree char *opts =
		    g_strconcat(asan && *asan ? asan : "", asan && *asan ? ":" : "",
				"verify_asan_link_order=0", NULL);

		g_setenv("ASAN_OPTIONS", opts, TRUE);
	}
#endif
	execv("/proc/self/exe", argv);
	fprintf(stderr, "dfuflash-sim: cannot re-execute itself: %s\n", strerror(errno));
	return EX_OSERR;
}

static void log_line(void *ctx, const char *json_line)
{
	struct log_sink *s = ctx;

	if (s->tag && json_line[0] == '{')
		fprintf(s->f, "{\"dev\":%u,%s\n", s->index, json_line + 1);
	else
		fprintf(s->f, "%s\n", json_line);
	fflush(s->f);
}

static int read_file(const char *path, uint8_t **buf, size_t *len)
{
	g_autoptr(GError) err = NULL;
	gchar *data = NULL;
	gsize n = 0;

	if (!g_file_get_contents(path, &data, &n, &err)) {
		fprintf(stderr, "dfuflash-sim: cannot read '%s': %s\n", path, err->message);
		return EX_NOINPUT;
	}
	*buf = (uint8_t *)data;
	*len = n;
	return 0;
}

/* --flash-out: the raw bytes of the device's first flash region. */
static int dump_flash(struct sim_device *d, FILE *f, const char *path)
{
	struct sim_region_info ri;
	g_autofree uint8_t *buf = NULL;

	for (size_t i = 0; sim_device_region(d, i, &ri) == 0; i++) {
		if (ri.kind != SIM_REGION_FLASH)
			continue;
		buf = g_malloc(ri.size);
		if (sim_device_mem_read(d, ri.base, buf, ri.size) < 0 ||
		    fwrite(buf, 1, ri.size, f) != ri.size || fflush(f) != 0) {
			fprintf(stderr, "dfuflash-sim: cannot write '%s': %s\n", path,
				strerror(errno));
			return EX_IOERR;
		}
		return 0;
	}
	fprintf(stderr, "dfuflash-sim: the profile has no flash region to dump\n");
	return EX_SOFTWARE;
}

static void on_child_exit(GPid pid, gint status, gpointer data)
{
	struct run_ctx *r = data;

	r->status = status;
	r->child_running = false;
	g_spawn_close_pid(pid);
	g_main_loop_quit(r->loop);
}

static gboolean on_signal(gpointer data)
{
	struct run_ctx *r = data;

	/* the command decides how to end; with --hold the signal ends us */
	if (r->child_running)
		kill(r->child, SIGTERM);
	else
		g_main_loop_quit(r->loop);
	return G_SOURCE_CONTINUE;
}

static int exit_status_of(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return EX_SOFTWARE;
}

static char *flash_out_name(const char *base, unsigned index)
{
	return index == 0 ? g_strdup(base) : g_strdup_printf("%s.%u", base, index + 1);
}

/* What main() sets up for the run and tears down after it. */
struct testbed {
	struct sim_device *devs[MAX_DEVICES];
	struct log_sink sinks[MAX_DEVICES];
	FILE *out_files[MAX_DEVICES];
	FILE *log;
	struct sim_usbfs *bus;
	struct run_ctx run;
	struct arrival {
		struct testbed *tb;
		unsigned index;
	} arrivals[MAX_DEVICES];
};

/* The setup steps below return 0, or an exit status. */

/* --log and --flash-out files: created before anything runs, so that a bad path fails early. */
static int open_outputs(const struct sim_opts *o, struct testbed *tb)
{
	if (o->log) {
		tb->log = fopen(o->log, "we");
		if (!tb->log) {
			fprintf(stderr, "dfuflash-sim: cannot create '%s': %s\n", o->log,
				strerror(errno));
			return EX_CANTCREAT;
		}
	}
	for (unsigned i = 0; o->flash_out && i < o->devices; i++) {
		g_autofree char *name = flash_out_name(o->flash_out, i);

		tb->out_files[i] = fopen(name, "we");
		if (!tb->out_files[i]) {
			fprintf(stderr, "dfuflash-sim: cannot create '%s': %s\n", name,
				strerror(errno));
			return EX_CANTCREAT;
		}
	}
	return 0;
}

static int create_devices(const struct sim_opts *o, struct testbed *tb)
{
	char errbuf[256] = "";

	for (unsigned i = 0; i < o->devices; i++) {
		g_autofree char *faults = device_faults(o->faults->str, i + 1);
		struct sim_options so = {
			.time_scale = o->time_scale,
			.faults = faults,
			.clock = { .now_us = sim_usbfs_clock_us },
			.errbuf = errbuf,
			.errbuf_size = sizeof(errbuf),
		};
		int r;

		if (tb->log) {
			tb->sinks[i] = (struct log_sink){ .f = tb->log,
							  .index = i + 1,
							  .tag = o->devices > 1 };
			so.log_fn = log_line;
			so.log_ctx = &tb->sinks[i];
		}
		r = sim_device_new(o->profile, &so, &tb->devs[i]);
		if (r < 0) {
			fprintf(stderr, "dfuflash-sim: cannot create a %s device: %s\n", o->profile,
				errbuf[0] ? errbuf : strerror(-r));
			return r == -ENOMEM ? EX_OSERR : EX_USAGE;
		}
	}
	return 0;
}

/* --flash-in: the same bytes into every device. */
static int load_flash_in(const struct sim_opts *o, struct testbed *tb)
{
	for (size_t k = 0; k < o->n_flash_in; k++) {
		g_autofree uint8_t *buf = NULL;
		size_t len = 0;
		int ret = read_file(o->flash_in[k].file, &buf, &len);

		if (ret)
			return ret;
		for (unsigned i = 0; i < o->devices; i++) {
			if (sim_device_mem_write(tb->devs[i], o->flash_in[k].address, buf, len) <
			    0) {
				fprintf(stderr,
					"dfuflash-sim: --flash-in '%s': %zu bytes at 0x%08x do not "
					"fit in one memory region of %s\n",
					o->flash_in[k].file, len, o->flash_in[k].address,
					o->profile);
				return EX_DATAERR;
			}
		}
	}
	return 0;
}

/* The umockdev testbed serving the devices, and the main loop that ends on a signal. */
static int start_bus(const struct sim_opts *o, struct testbed *tb)
{
	char errbuf[256] = "";

	if (sim_usbfs_new(tb->devs, o->devices, &tb->bus, errbuf, sizeof(errbuf)) < 0) {
		fprintf(stderr, "dfuflash-sim: cannot set up the umockdev testbed: %s\n", errbuf);
		return EX_UNAVAILABLE;
	}
	tb->run.loop = g_main_loop_new(NULL, FALSE);
	tb->run.hold = o->hold;
	g_unix_signal_add(SIGINT, on_signal, &tb->run);
	g_unix_signal_add(SIGTERM, on_signal, &tb->run);
	g_unix_signal_add(SIGHUP, on_signal, &tb->run);
	return 0;
}

static gboolean on_arrival(gpointer data)
{
	struct arrival *a = data;

	if (sim_usbfs_replug(a->tb->bus, a->index) < 0)
		fprintf(stderr, "dfuflash-sim: --arrive: device %u cannot be plugged in\n",
			a->index + 1);
	return G_SOURCE_REMOVE;
}

/* --arrive: every device but the first starts unplugged, before the bus exists... */
static void hold_back_arrivals(const struct sim_opts *o, struct testbed *tb)
{
	for (unsigned i = 1; o->arrive_ms && i < o->devices; i++)
		sim_device_unplug(tb->devs[i]);
}

/* ...and is plugged in at its time, by the main loop. */
static void schedule_arrivals(const struct sim_opts *o, struct testbed *tb)
{
	for (unsigned i = 1; o->arrive_ms && i < o->devices; i++) {
		tb->arrivals[i] = (struct arrival){ .tb = tb, .index = i };
		g_timeout_add((guint)MIN((uint64_t)i * o->arrive_ms, (uint64_t)G_MAXUINT),
			      on_arrival, &tb->arrivals[i]);
	}
}

static gboolean on_change_tick(gpointer data)
{
	struct testbed *tb = data;

	sim_usbfs_announce_change(tb->bus);
	return G_SOURCE_CONTINUE;
}

/* --change-events: the main loop sends them until the end. */
static void schedule_change_events(const struct sim_opts *o, struct testbed *tb)
{
	if (o->change_ms)
		g_timeout_add(o->change_ms, on_change_tick, tb);
}

/* --hold: print the environment that reaches the bus, then serve until a signal. */
static int hold_bus(const struct sim_opts *o, struct testbed *tb)
{
	printf("UMOCKDEV_DIR=%s; export UMOCKDEV_DIR;\n"
	       "LD_PRELOAD=%s; export LD_PRELOAD;\n",
	       sim_usbfs_root(tb->bus), PRELOAD_LIB);
#if defined(__SANITIZE_ADDRESS__)
	/* a sanitized program run on this bus needs it as this one did (main) */
	printf("ASAN_OPTIONS='%s'; export ASAN_OPTIONS;\n", g_getenv("ASAN_OPTIONS"));
#endif
	fflush(stdout);
	fprintf(stderr, "dfuflash-sim: %u %s device(s) ready; stop with SIGINT or SIGTERM\n",
		o->devices, o->profile);
	g_main_loop_run(tb->run.loop);
	return 0;
}

/* Start COMMAND; 0, or 127 (not found) / 126 (cannot run) as a shell says. */
static int spawn_command(const struct sim_opts *o, struct testbed *tb)
{
	g_autoptr(GError) err = NULL;

	if (!g_spawn_async(NULL, o->command, NULL,
			   G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
			       G_SPAWN_CHILD_INHERITS_STDIN,
			   NULL, NULL, &tb->run.child, &err)) {
		fprintf(stderr, "dfuflash-sim: cannot run '%s': %s\n", o->command[0], err->message);
		return g_error_matches(err, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT) ? 127 : 126;
	}
	tb->run.child_running = true;
	g_child_watch_add(tb->run.child, on_child_exit, &tb->run);
	return 0;
}

/* Serve until COMMAND ends; returns its exit status. */
static int wait_command(struct testbed *tb)
{
	g_main_loop_run(tb->run.loop);
	return exit_status_of(tb->run.status);
}

/* --flash-out: dump every device; returns @ret, or the first failure when @ret is 0. */
static int dump_flash_out(const struct sim_opts *o, struct testbed *tb, int ret)
{
	sim_usbfs_lock(tb->bus);
	for (unsigned i = 0; i < o->devices; i++) {
		g_autofree char *name = flash_out_name(o->flash_out, i);
		int r = dump_flash(tb->devs[i], tb->out_files[i], name);

		if (r && !ret)
			ret = r;
	}
	sim_usbfs_unlock(tb->bus);
	return ret;
}

static void testbed_release(struct testbed *tb)
{
	sim_usbfs_free(tb->bus);
	if (tb->run.loop)
		g_main_loop_unref(tb->run.loop);
	for (unsigned i = 0; i < MAX_DEVICES; i++) {
		sim_device_free(tb->devs[i]);
		if (tb->out_files[i])
			fclose(tb->out_files[i]);
	}
	if (tb->log)
		fclose(tb->log);
}

static void sim_opts_release(struct sim_opts *o)
{
	for (size_t k = 0; k < o->n_flash_in; k++)
		g_free(o->flash_in[k].file);
	g_free(o->flash_in);
	g_string_free(o->faults, TRUE);
}

int main(int argc, char **argv)
{
	struct sim_opts o = { .profile = "stm32f405", .time_scale = 1.0, .devices = 1 };
	struct testbed tb = { 0 };
	int ret;

	o.faults = g_string_new(NULL);
	ret = parse_args(argc, argv, &o);
	if (ret >= 0)
		goto out;
	ret = ensure_preload(argv);
	if (ret)
		goto out;
	/* the umockdev preload ends every forwarded ioctl with usleep(0), which sleeps for the
	 * timer slack (50 us by default); a 1 ns slack gave about 50 % more transfers per
	 * second.  Children inherit it. */
	(void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);

	ret = open_outputs(&o, &tb);
	if (ret)
		goto out;
	ret = create_devices(&o, &tb);
	if (ret)
		goto out;
	ret = load_flash_in(&o, &tb);
	if (ret)
		goto out;
	hold_back_arrivals(&o, &tb);
	ret = start_bus(&o, &tb);
	if (ret)
		goto out;
	schedule_arrivals(&o, &tb);
	schedule_change_events(&o, &tb);
	if (o.hold) {
		ret = hold_bus(&o, &tb);
	} else {
		ret = spawn_command(&o, &tb);
		if (ret)
			goto out; /* nothing ran: no --flash-out dump */
		ret = wait_command(&tb);
	}
	if (o.flash_out)
		ret = dump_flash_out(&o, &tb, ret);
out:
	testbed_release(&tb);
	sim_opts_release(&o);
	return ret;
}
