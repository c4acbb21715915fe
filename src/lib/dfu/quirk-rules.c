// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Quirk files as data: the parser of their lines into rules that quirks.c
 * applies after its built-in table.  Pure: the caller reads the files and
 * shows the warnings; a bad line is kept as a warning naming file and line
 * and is otherwise ignored, so one typo never stops a flashing station.
 *
 *   # comment
 *   VID:PID[:bcdDevice] [layout=NAME] ITEM... [# reason]
 *   ITEM: busy=nak|stall|repeat|strict, mass-erase-ms=N, a quirk name
 *         (mass-erase-slow), or no-<quirk name> to take a built-in one back
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "proto.h"
#include "util.h"

#define LINE_MAX_LEN 1023u
/* the longest mass-erase deadline a file may give: 10 minutes */
#define MASS_ERASE_MS_MAX 600000u

int dfu_quirk_rules_new(struct dfu_quirk_rules **out)
{
	if (!out)
		return DFU_E_INVAL;
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : DFU_E_NOMEM;
}

void dfu_quirk_rules_free(struct dfu_quirk_rules *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->n_warnings; i++)
		free(q->warnings[i]);
	free(q->warnings);
	free(q->rules);
	free(q);
}

size_t dfu_quirk_rules_n_warnings(const struct dfu_quirk_rules *q)
{
	return q ? q->n_warnings : 0;
}

const char *dfu_quirk_rules_warning(const struct dfu_quirk_rules *q, size_t i)
{
	return q && i < q->n_warnings ? q->warnings[i] : NULL;
}

static int add_warning(struct dfu_quirk_rules *q, const char *source, unsigned line,
		       const char *fmt, ...) _printf_format_(4, 5);
static int add_warning(struct dfu_quirk_rules *q, const char *source, unsigned line,
		       const char *fmt, ...)
{
	char *w;
	size_t head;
	va_list ap, ap2;
	int msg_len;

	if (q->n_warnings == q->cap_warnings) {
		size_t cap = q->cap_warnings ? 2 * q->cap_warnings : 8;
		char **n = realloc(q->warnings, cap * sizeof(*n));

		if (!n)
			return DFU_E_NOMEM;
		q->warnings = n;
		q->cap_warnings = cap;
	}
	/* sized to the message: a reason is never cut short */
	va_start(ap, fmt);
	va_copy(ap2, ap);
	msg_len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	head = strlen(source) + 16;
	w = msg_len < 0 ? NULL : malloc(head + (size_t)msg_len + 1);
	if (w) {
		snprintf(w, head, "%s:%u: ", source, line);
		vsnprintf(w + strlen(w), (size_t)msg_len + 1, fmt, ap2);
	}
	va_end(ap2);
	if (!w)
		return DFU_E_NOMEM;
	q->warnings[q->n_warnings++] = w;
	return 0;
}

/* "0483:df11" or "0483:df11:2200", hexadecimal, each part 1-4 digits. */
static bool parse_id(const char *word, struct dfu_quirk_rule *r)
{
	char part[3][8];
	unsigned n = 0;
	const char *s = word;
	uint64_t v[3];

	for (;;) {
		size_t len = strcspn(s, ":");

		if (n == 3 || len == 0 || len > 4)
			return false;
		memcpy(part[n], s, len);
		part[n][len] = '\0';
		if (util_parse_u64_radix(part[n], 16, 0xffff, &v[n]) < 0)
			return false;
		n++;
		s += len;
		if (!*s)
			break;
		s++;
	}
	if (n < 2)
		return false;
	r->vid = (uint16_t)v[0];
	r->pid = (uint16_t)v[1];
	r->bcd_device = n == 3 ? (int32_t)v[2] : -1;
	return true;
}

static int parse_busy(const char *v)
{
	static const enum dfu_busy values[] = { DFU_BUSY_NAK, DFU_BUSY_STALL, DFU_BUSY_REPEAT,
						DFU_BUSY_STRICT };

	for (size_t i = 0; i < ARRAY_SIZE(values); i++)
		if (strcmp(v, dfu_busy_name(values[i])) == 0)
			return (int)values[i];
	return -1;
}

/*
 * One ITEM of a line into @r.  Returns NULL when it is good, else the reason
 * (in @why, @cap bytes) the line is ignored.
 */
static const char *parse_item(char *item, struct dfu_quirk_rule *r, char *why, size_t cap)
{
	char *eq = strchr(item, '=');
	uint32_t bit;
	uint64_t ms;
	int v;

	if (eq) {
		*eq++ = '\0';
		if (strcmp(item, "busy") == 0) {
			v = parse_busy(eq);
			if (v < 0)
				snprintf(why, cap,
					 "busy='%s': expected nak, stall, repeat or strict", eq);
			else
				r->busy = (enum dfu_busy)v;
			return v < 0 ? why : NULL;
		}
		if (strcmp(item, "mass-erase-ms") == 0) {
			if (util_parse_u64(eq, MASS_ERASE_MS_MAX, &ms) < 0 || ms == 0) {
				snprintf(why, cap,
					 "mass-erase-ms='%s': expected milliseconds from 1 to %u",
					 eq, MASS_ERASE_MS_MAX);
				return why;
			}
			r->mass_erase_ms = (uint32_t)ms;
			return NULL;
		}
		if (strcmp(item, "layout") == 0) {
			v = dfu_quirk_layout_from_name(eq);
			if (v < 0)
				snprintf(why, cap,
					 "layout='%s': expected any, f4-sectors, h7-128k, 8k-pages "
					 "or small-pages",
					 eq);
			else
				r->layout = (enum dfu_quirk_layout)v;
			return v < 0 ? why : NULL;
		}
		snprintf(why, cap,
			 "unknown setting '%s=%s' (settings: busy, mass-erase-ms, layout)", item,
			 eq);
		return why;
	}
	bit = dfu_quirk_from_name(item);
	if (bit) {
		r->set |= bit;
		r->clear &= ~bit;
		return NULL;
	}
	bit = strncmp(item, "no-", 3) == 0 ? dfu_quirk_from_name(item + 3) : 0;
	if (bit) {
		r->clear |= bit;
		r->set &= ~bit;
		return NULL;
	}
	snprintf(why, cap,
		 "unknown quirk '%s' (quirks: jump-to-reset-vector, leave-ignore-errors, "
		 "skips-dnbusy, poll-timeout-bogus, mass-erase-slow, leave-ignores-address, "
		 "no-vector-table, utf8-serial, layout-from-serial, sequential-blocks; "
		 "no-NAME takes one back)",
		 item);
	return why;
}

/* The words of @line (comment cut, reason kept) into @r; NULL or the reason to ignore it. */
static const char *parse_line(char *line, struct dfu_quirk_rule *r, char *why, size_t cap)
{
	char *hash = strchr(line, '#'), *save = NULL, *word;
	unsigned items = 0;

	if (hash) {
		*hash++ = '\0';
		hash += strspn(hash, " \t");
		snprintf(r->reason, sizeof(r->reason), "%s", hash);
	}
	word = strtok_r(line, " \t\r", &save);
	if (!parse_id(word, r)) {
		snprintf(why, cap, "expected VID:PID[:bcdDevice] in hexadecimal, found '%s'", word);
		return why;
	}
	while ((word = strtok_r(NULL, " \t\r", &save))) {
		bool layout = strncmp(word, "layout=", 7) == 0;

		if (parse_item(word, r, why, cap))
			return why;
		items += !layout;
	}
	if (!items) {
		snprintf(why, cap, "nothing to apply after '%04x:%04x'", r->vid, r->pid);
		return why;
	}
	return NULL;
}

static int add_rule(struct dfu_quirk_rules *q, const struct dfu_quirk_rule *r)
{
	if (q->n_rules == q->cap_rules) {
		size_t cap = q->cap_rules ? 2 * q->cap_rules : 8;
		struct dfu_quirk_rule *n = realloc(q->rules, cap * sizeof(*n));

		if (!n)
			return DFU_E_NOMEM;
		q->rules = n;
		q->cap_rules = cap;
	}
	q->rules[q->n_rules++] = *r;
	return 0;
}

/* One line (@len bytes, no newline) numbered @no; 1 when it added a rule. */
static int one_line(struct dfu_quirk_rules *q, const char *source, unsigned no, const char *text,
		    size_t len)
{
	char line[LINE_MAX_LEN + 1], why[LINE_MAX_LEN + 320]; /* why quotes a word of line */
	struct dfu_quirk_rule r = { .bcd_device = -1 };
	size_t skip;
	int ret;

	if (memchr(text, '\0', len))
		return add_warning(q, source, no, "NUL byte: not a text line");
	if (len > LINE_MAX_LEN)
		return add_warning(q, source, no, "line longer than %u bytes", LINE_MAX_LEN);
	memcpy(line, text, len);
	line[len] = '\0';
	skip = strspn(line, " \t\r");
	if (!line[skip] || line[skip] == '#')
		return 0;
	if (parse_line(line + skip, &r, why, sizeof(why)))
		return add_warning(q, source, no, "%s; line ignored", why);
	snprintf(r.source, sizeof(r.source), "%s:%u", source, no);
	ret = add_rule(q, &r);
	return ret < 0 ? ret : 1;
}

int dfu_quirk_rules_parse(struct dfu_quirk_rules *q, const char *source, const char *text,
			  size_t len)
{
	unsigned no = 0;
	int added = 0;

	if (!q || (!text && len))
		return DFU_E_INVAL;
	if (!source)
		source = "(quirks)";
	while (len) {
		const char *nl = memchr(text, '\n', len);
		size_t n = nl ? (size_t)(nl - text) : len;
		int r = one_line(q, source, ++no, text, n);

		if (r < 0)
			return r;
		added += r;
		text += n + (nl ? 1 : 0);
		len -= n + (nl ? 1 : 0);
	}
	return added;
}
