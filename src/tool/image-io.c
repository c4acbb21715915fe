// SPDX-License-Identifier: GPL-2.0-or-later
/* File I/O for the CLI: streaming image reads and atomic writes
 * (temporary file + rename), plus strict option-value parsing. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "tool.h"
#include "util.h"

#define CHUNK (1024 * 1024)

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static const char *file_kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	return "not a regular file";
}

/*
 * Open a firmware file for reading.  O_NONBLOCK: a FIFO without a writer
 * must not hang the open; anything but a regular file is refused (a device
 * such as /dev/zero never ends), "-" being the way to read a pipe.
 */
static int open_input(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

	if (fd < 0) {
		tool_err("%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		tool_err("%s: cannot open: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		tool_err("%s: is %s, not a firmware file", path, file_kind(st.st_mode));
		if (!S_ISDIR(st.st_mode))
			tool_hint("give a regular file, or \"-\" to read standard input");
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * A name that says Intel HEX, S-record or ELF decides the format: such a
 * file is read as that format or refused, never taken for raw bytes.
 * Other names (.bin, .dfu, none) are told apart by their content.
 */
static enum dfu_format format_by_name(const char *path)
{
	const char *dot = strrchr(path, '.');
	char ext[8];
	enum dfu_format f;
	size_t i;

	if (!dot || strchr(dot, '/') || strlen(dot + 1) >= sizeof(ext))
		return DFU_FORMAT_AUTO;
	for (i = 0; dot[i + 1]; i++)
		ext[i] = (char)tolower((unsigned char)dot[i + 1]);
	ext[i] = '\0';
	if (dfu_format_from_name(ext, &f) < 0 ||
	    (f != DFU_FORMAT_IHEX && f != DFU_FORMAT_SREC && f != DFU_FORMAT_ELF))
		return DFU_FORMAT_AUTO;
	return f;
}

static void report_load_error(const char *path, enum dfu_format by_name, struct dfu_error *e)
{
	if (by_name != DFU_FORMAT_AUTO && !e->hint && e->err == DFU_E_FORMAT)
		e->hint = "the file's name sets its format; if the name is wrong, give "
			  "--format (--format bin for raw bytes)";
	tool_report(path, e);
}

enum dfu_format tool_input_opts(const char *path, struct dfu_parse_opts *o)
{
	enum dfu_format by_name = DFU_FORMAT_AUTO;

	if (o->format == DFU_FORMAT_AUTO && (ends_with(path, ".dfu") || ends_with(path, ".dfuse")))
		o->expect_suffix = true;
	if (o->format == DFU_FORMAT_AUTO && strcmp(path, "-") != 0)
		o->format = by_name = format_by_name(path);
	return by_name;
}

int tool_parse_image(const char *path, const uint8_t *data, size_t len,
		     const struct dfu_parse_opts *opts, struct dfu_image **out)
{
	struct dfu_parse_opts o = *opts;
	enum dfu_format by_name = tool_input_opts(path, &o);
	struct dfu_error e = { 0 };
	int ret;

	ret = dfu_image_parse(data, len, &o, out, &e);
	if (ret < 0) {
		report_load_error(path, by_name, &e);
		return tool_exit_for(ret);
	}
	return 0;
}

int tool_check_input(const char *path)
{
	int fd;

	if (strcmp(path, "-") == 0)
		return 0;
	fd = open_input(path);
	if (fd < 0)
		return TOOL_EXIT_NOINPUT;
	close(fd);
	return 0;
}

int tool_load_image(const char *path, const struct dfu_parse_opts *opts, struct dfu_image **out)
{
	_cleanup_(dfu_reader_freep) struct dfu_reader *r = NULL;
	_cleanup_close_ int fd = -1;
	_cleanup_free_ uint8_t *buf = NULL;
	struct dfu_parse_opts o = *opts;
	struct dfu_error e = { 0 };
	enum dfu_format by_name = tool_input_opts(path, &o);
	int ret;

	/* "-": standard input (dfu-util's -D -), but not a terminal: a read
	 * would wait for typing that never comes */
	if (strcmp(path, "-") == 0 && isatty(STDIN_FILENO)) {
		tool_err("standard input is a terminal, not a firmware file");
		tool_hint("pipe the firmware in (`< FILE`, `cat FILE |`), or give its name");
		return TOOL_EXIT_USAGE;
	}
	fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open_input(path);
	if (fd < 0)
		return TOOL_EXIT_NOINPUT;
	buf = malloc(CHUNK);
	if (!buf || dfu_reader_new(&o, &r) < 0) {
		tool_err("%s: out of memory", path);
		return TOOL_EXIT_SOFTWARE;
	}
	for (;;) {
		ssize_t n = read(fd, buf, CHUNK);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			tool_err("%s: read error: %s", path, strerror(errno));
			return TOOL_EXIT_NOINPUT;
		}
		if (n == 0)
			break;
		ret = dfu_reader_feed(r, buf, (size_t)n, &e);
		if (ret < 0) {
			report_load_error(path, by_name, &e);
			return tool_exit_for(ret);
		}
	}
	ret = dfu_reader_finish(r, out, &e);
	if (ret < 0) {
		report_load_error(path, by_name, &e);
		return tool_exit_for(ret);
	}
	return 0;
}

int tool_read_file(const char *path, uint8_t **data, size_t *len)
{
	_cleanup_close_ int fd = -1;
	struct dfu_buf b = { 0 };
	uint8_t chunk[65536];

	fd = open_input(path);
	if (fd < 0)
		return TOOL_EXIT_NOINPUT;
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			tool_err("%s: read error: %s", path, strerror(errno));
			dfu_buf_release(&b);
			return TOOL_EXIT_NOINPUT;
		}
		if (n == 0)
			break;
		if (dfu_buf_append(&b, chunk, (size_t)n) < 0) {
			tool_err("%s: out of memory", path);
			dfu_buf_release(&b);
			return TOOL_EXIT_SOFTWARE;
		}
	}
	*data = b.data ? b.data : calloc(1, 1);
	*len = b.len;
	return 0;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * May @path be written?  lstat(2), not stat(2): a symbolic link is never
 * followed into the file it names, and a dangling one still exists.
 * Fills @f->mode with the mode the new file gets.
 */
static int check_output(struct tool_outfile *f, const char *path, enum tool_clobber clobber)
{
	struct stat st;
	mode_t mask;

	if (lstat(path, &st) < 0) {
		mask = umask(0);
		umask(mask);
		f->mode = 0666 & ~mask;
		return 0;
	}
	if (clobber == TOOL_KEEP_EXISTING) {
		tool_err("%s: file exists; not overwriting it", path);
		tool_hint("give --force to replace it, or another name");
		return TOOL_EXIT_CANTCREAT;
	}
	if (S_ISLNK(st.st_mode)) {
		tool_err("%s: is a symbolic link; not replacing it", path);
		tool_hint("give the file the link points to, or remove the link");
		return TOOL_EXIT_CANTCREAT;
	}
	if (!S_ISREG(st.st_mode)) {
		tool_err("%s: exists and is not a regular file", path);
		return TOOL_EXIT_CANTCREAT;
	}
	f->mode = st.st_mode & 07777;
	f->replacing = true;
	return 0;
}

int tool_outfile_open(struct tool_outfile *f, const char *path, enum tool_clobber clobber)
{
	_cleanup_free_ char *dircopy = strdup(path);
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	int ret;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	f->path = path;
	if (!dircopy) {
		tool_err("%s: out of memory", path);
		return TOOL_EXIT_SOFTWARE;
	}
	ret = check_output(f, path, clobber);
	if (ret)
		return ret;
	if ((size_t)snprintf(f->tmp, sizeof(f->tmp), "%s/.%s.XXXXXX", dirname(dircopy), base) >=
	    sizeof(f->tmp)) {
		tool_err("%s: path too long", path);
		return TOOL_EXIT_CANTCREAT;
	}
	/* mkstemp: O_EXCL, so the temporary name is never a planted link */
	f->fd = mkostemp(f->tmp, O_CLOEXEC);
	if (f->fd < 0) {
		tool_err("%s: cannot create a temporary file beside it: %s", path, strerror(errno));
		return TOOL_EXIT_CANTCREAT;
	}
	return 0;
}

FILE *tool_outfile_stream(struct tool_outfile *f)
{
	if (!f->fp && f->fd >= 0)
		f->fp = fdopen(f->fd, "w");
	return f->fp;
}

void tool_outfile_abort(struct tool_outfile *f)
{
	if (f->fp)
		fclose(f->fp);
	else if (f->fd >= 0)
		close(f->fd);
	if (f->tmp[0])
		unlink(f->tmp);
	f->tmp[0] = '\0';
	f->fp = NULL;
	f->fd = -1;
}

/* Flush, sync and close the temporary file; 0 or -errno. */
static int outfile_close(struct tool_outfile *f)
{
	int r = 0;

	if (f->fp && fflush(f->fp) != 0)
		r = -errno;
	if (f->fp && ferror(f->fp) && r == 0)
		r = -EIO;
	if (r == 0 && fchmod(f->fd, f->mode) < 0)
		r = -errno;
	if (r == 0 && fsync(f->fd) < 0)
		r = -errno;
	if ((f->fp ? fclose(f->fp) : close(f->fd)) < 0 && r == 0)
		r = -errno;
	f->fp = NULL;
	f->fd = -1;
	return r;
}

/*
 * Writing failed (ENOSPC, EIO, EFBIG, ...): an I/O error on the output,
 * exit 74; the temporary file goes and an existing file stays as it was.
 */
static int outfile_failed(struct tool_outfile *f, int err, int code)
{
	tool_outfile_abort(f);
	tool_err("%s: cannot write: %s", f->path, strerror(-err));
	if (f->replacing)
		tool_hint("the existing file was left unchanged");
	return code;
}

int tool_outfile_commit(struct tool_outfile *f)
{
	int r = outfile_close(f);

	if (r < 0)
		return outfile_failed(f, r, TOOL_EXIT_IOERR);
	/* rename(2) replaces a name, never writes through a link */
	if (rename(f->tmp, f->path) < 0)
		return outfile_failed(f, -errno, TOOL_EXIT_CANTCREAT);
	f->tmp[0] = '\0';
	return 0;
}

static int write_atomically(const char *path, const uint8_t *data, size_t len,
			    enum tool_clobber clobber)
{
	struct tool_outfile f;
	int r;

	r = tool_outfile_open(&f, path, clobber);
	if (r)
		return r;
	r = write_all(f.fd, data, len);
	if (r < 0)
		return outfile_failed(&f, r, TOOL_EXIT_IOERR);
	return tool_outfile_commit(&f);
}

int tool_write_file(const char *path, const uint8_t *data, size_t len)
{
	return write_atomically(path, data, len, TOOL_KEEP_EXISTING);
}

int tool_replace_file(const char *path, const uint8_t *data, size_t len)
{
	return write_atomically(path, data, len, TOOL_REPLACE_EXISTING);
}

int tool_check_stdout_for_data(void)
{
	if (!isatty(STDOUT_FILENO))
		return 0;
	tool_err("standard output is a terminal; not writing firmware bytes to it");
	tool_hint("redirect it to a file or a pipe (`> FILE`, `| xxd`), or give a file name");
	return TOOL_EXIT_USAGE;
}

int tool_write_stdout(const uint8_t *data, size_t len)
{
	int r;

	fflush(stdout);
	r = write_all(STDOUT_FILENO, data, len);
	if (r < 0) {
		tool_err("standard output: cannot write: %s", strerror(-r));
		return TOOL_EXIT_IOERR;
	}
	return 0;
}

bool tool_parse_u32(const char *opt, const char *s, uint32_t *out)
{
	int r = util_parse_u32(s, out);

	if (r == 0)
		return true;
	tool_err("%s '%s': %s", opt, s,
		 r == -ERANGE ? "number too large (at most 0xffffffff)"
			      : "not a number (decimal, or hexadecimal with 0x)");
	return false;
}

bool tool_parse_hex16(const char *opt, const char *s, uint16_t *out)
{
	uint64_t v;
	int r = util_parse_u64_radix(s, 16, 0xffff, &v);

	if (r == 0) {
		*out = (uint16_t)v;
		return true;
	}
	tool_err("%s '%s': %s", opt, s,
		 r == -ERANGE ? "too large (at most ffff)"
			      : "not a hexadecimal number (e.g. 0483 or 0x0483)");
	return false;
}

bool tool_parse_u8(const char *opt, const char *s, uint8_t *out)
{
	uint64_t v;
	int r = util_parse_u64(s, 0xff, &v);

	if (r == 0) {
		*out = (uint8_t)v;
		return true;
	}
	tool_err("%s '%s': %s", opt, s,
		 r == -ERANGE ? "too large (at most 255 / 0xff)" : "not a number");
	return false;
}
