// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The quirk files of a run: quirks.d/NAME.conf under $(sysconfdir)/dfuflash,
 * then under the user's configuration directory ($XDG_CONFIG_HOME, else
 * ~/.config), each directory in name order, read here and parsed by the
 * library into rules for the context.  They are data: a file that cannot be
 * read and a line the parser ignores are warnings naming the file (and the
 * line), never a reason to stop.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "macro.h"
#include "quirk-files.h"
#include "tool.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

/* more than any hand-written quirk file; a bigger one is not meant for us */
#define QUIRK_FILE_MAX (1024 * 1024)

/* NAME.conf, not hidden (editors' .swp and backup files stay out) */
static int conf_filter(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 5 && strcmp(d->d_name + n - 5, ".conf") == 0;
}

/* The whole of @path into a new buffer (*@out, *@len); false after a warning. */
static bool read_file(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "re");
	struct stat sb;
	char *buf = NULL;
	size_t n;

	if (!f) {
		tool_warn("quirk file %s: cannot read: %s; ignored", path, strerror(errno));
		return false;
	}
	if (fstat(fileno(f), &sb) < 0 || !S_ISREG(sb.st_mode)) {
		tool_warn("quirk file %s: not a regular file; ignored", path);
		fclose(f);
		return false;
	}
	if (sb.st_size > QUIRK_FILE_MAX) {
		tool_warn("quirk file %s: %lld bytes, more than %d; ignored", path,
			  (long long)sb.st_size, QUIRK_FILE_MAX);
		fclose(f);
		return false;
	}
	buf = malloc((size_t)sb.st_size + 1);
	n = buf ? fread(buf, 1, (size_t)sb.st_size + 1, f) : 0;
	if (!buf || ferror(f)) {
		tool_warn("quirk file %s: cannot read: %s; ignored", path,
			  buf ? strerror(errno) : "out of memory");
		free(buf);
		fclose(f);
		return false;
	}
	fclose(f);
	*out = buf;
	*len = n;
	return true;
}

/* The .conf files of @dir into @q; a missing directory is no quirk file. */
static int load_dir(struct dfu_quirk_rules *q, const char *dir)
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, conf_filter, alphasort);
	int ret = 0;

	if (n < 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			tool_warn("quirk directory %s: cannot read: %s; ignored", dir,
				  strerror(errno));
		return 0;
	}
	for (int i = 0; i < n; i++) {
		char path[4096];
		char *text = NULL;
		size_t len = 0;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		if (ret == 0 && read_file(path, &text, &len) &&
		    dfu_quirk_rules_parse(q, path, text, len) < 0)
			ret = DFU_E_NOMEM;
		free(text);
		free(names[i]);
	}
	free(names);
	return ret;
}

/* $XDG_CONFIG_HOME/dfuflash/quirks.d (an absolute one only, as the XDG base
 * directory rules say), else ~/.config/dfuflash/quirks.d; false if neither. */
static bool user_dir(char *buf, size_t cap)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");

	if (xdg && xdg[0] == '/')
		snprintf(buf, cap, "%s/dfuflash/quirks.d", xdg);
	else if (home && home[0])
		snprintf(buf, cap, "%s/.config/dfuflash/quirks.d", home);
	else
		return false;
	return true;
}

int tool_quirk_files_load(struct dfu_ctx *ctx)
{
	struct dfu_quirk_rules *q = NULL;
	char dir[4096];
	int r;

	if (dfu_quirk_rules_new(&q) < 0)
		goto nomem;
	r = load_dir(q, SYSCONFDIR "/dfuflash/quirks.d");
	if (r == 0 && user_dir(dir, sizeof(dir)))
		r = load_dir(q, dir);
	if (r < 0)
		goto nomem;
	for (size_t i = 0; i < dfu_quirk_rules_n_warnings(q); i++)
		tool_warn("quirk file %s", dfu_quirk_rules_warning(q, i));
	dfu_ctx_set_quirk_rules(ctx, q);
	return 0;
nomem:
	dfu_quirk_rules_free(q);
	tool_err("reading the quirk files: out of memory");
	return TOOL_EXIT_SOFTWARE;
}
