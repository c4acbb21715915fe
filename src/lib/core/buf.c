// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The growable output buffer (struct dfu_buf) that the writers and the
 * engine's uploads append to.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core.h"

int dfu_buf_append(struct dfu_buf *b, const void *data, size_t len)
{
	if (len > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 4096;
		uint8_t *d;

		while (cap - b->len < len) {
			if (cap > SIZE_MAX / 2)
				return DFU_E_NOMEM;
			cap *= 2;
		}
		d = realloc(b->data, cap);
		if (!d)
			return DFU_E_NOMEM;
		b->data = d;
		b->cap = cap;
	}
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	return 0;
}

void dfu_buf_release(struct dfu_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}
