// SPDX-License-Identifier: GPL-2.0-or-later
/* The usbfs front end of dfuflash-sim: a umockdev testbed whose USB device nodes answer
 * usbfs ioctls from the sim_device models, and whose sysfs/udev records follow the
 * models' bus events (leave, detach, reset) by removal and re-enumeration at a new
 * address.  Only control transfers exist (endpoint 0), which is all DFU uses.  The
 * approach is that of libusb's own tests/umockdev.c, out of process and with a live
 * device model. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/usb/ch9.h>
#include <linux/usbdevice_fs.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* glib defines MIN/MAX too (with #undef first), so it comes after macro.h */
#include "macro.h"

#include <glib.h>
#include <umockdev.h>

#include "sim-usbfs.h"

#define BUS_NUM 1
#define MAX_DEVNUM 127
#define MAX_PORTS 16
#define MAX_IFACES 8
#define NEVER UINT64_MAX
/* The host must read the reply that announced the leave before the device vanishes from
 * sysfs, and libusb's hotplug thread must see the removal before the new device appears. */
#define REMOVE_DELAY_US 5000
#define READD_GAP_US 20000
#define CLIENT_KEY "dfuflash-sim-client"

/* One enumeration of one device: /dev/bus/usb/001/NNN, for the life of one generation. */
struct usbfs_node {
	struct usbfs_port *port;
	uint64_t generation;
	unsigned devnum;
	char devnode[32];
	char *fifo_path;
	int fifo_fd;
	bool fifo_drained;
	bool gone;
	unsigned n_ifaces;
	UMockdevIoctlClient *claim[MAX_IFACES]; /* borrowed; cleared when the client dies */
};

enum action_type { ACT_REMOVE, ACT_ADD };

struct action {
	enum action_type type;
	uint64_t at;
	uint64_t generation;	 /* ACT_ADD */
	struct usbfs_node *node; /* ACT_REMOVE */
};

/* One root hub port with one virtual device behind it. */
struct usbfs_port {
	struct sim_usbfs *u;
	unsigned number;
	char syspath[64];
	struct sim_device *dev;
	struct usbfs_node *cur; /* in the testbed now, or NULL */
	GQueue actions;		/* struct action, in order */
	uint64_t last_remove_at;
};

struct pending_urb {
	UMockdevIoctlData *urb; /* the URB resolved at submit time (a reference) */
	UMockdevIoctlData *buf; /* its buffer: SETUP + data */
	gulong client_addr;
	int status;
	size_t actual;
	uint8_t *in;
	uint64_t ready_at; /* NEVER: held until discarded */
};

/* Per client fd: lives as long as umockdev's UMockdevIoctlClient. */
struct usbfs_client {
	struct sim_usbfs *u;
	UMockdevIoctlClient *client;
	struct usbfs_node *node;
	GQueue urbs;
};

struct sim_usbfs {
	GRecMutex lock;
	UMockdevTestbed *tb;
	UMockdevIoctlBase *handler;
	char *root;
	struct usbfs_port ports[MAX_PORTS];
	size_t n_ports;
	GPtrArray *nodes;			      /* every node ever made (owned) */
	struct usbfs_node *by_devnum[MAX_DEVNUM + 1]; /* latest node per address */
	GPtrArray *clients;			      /* live clients (borrowed) */
	unsigned next_devnum;
	GSource *timer; /* main thread only */
	uint64_t armed_at;
	struct sim_usbfs_stats stats;
};

uint64_t sim_usbfs_clock_us(void *ctx)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t now_us(void)
{
	return sim_usbfs_clock_us(NULL);
}

/* ---- the FIFO node ----------------------------------------------------------------------
 * libusb waits for completions with poll(POLLOUT) on the usbfs fd, and umockdev's usb
 * nodes are regular files, always ready: a client waiting out a 5 s timeout spun on
 * REAPURBNDELAY some 34 000 times.  The node is a FIFO
 * that we keep full while nothing can be reaped and drain when a URB completes, so a
 * client sleeps in poll() instead of spinning on REAPURBNDELAY. */

static void node_fill(struct usbfs_node *n)
{
	static const uint8_t junk[4096];

	if (n->fifo_fd < 0 || !n->fifo_drained)
		return;
	while (write(n->fifo_fd, junk, sizeof(junk)) > 0)
		;
	n->fifo_drained = false;
}

static void node_drain(struct usbfs_node *n)
{
	uint8_t buf[4096];

	if (n->fifo_fd < 0 || n->fifo_drained)
		return;
	while (read(n->fifo_fd, buf, sizeof(buf)) > 0)
		;
	n->fifo_drained = true;
}

static bool node_has_ready(struct sim_usbfs *u, struct usbfs_node *n, uint64_t now)
{
	for (guint i = 0; i < u->clients->len; i++) {
		struct usbfs_client *c = g_ptr_array_index(u->clients, i);

		if (c->node != n)
			continue;
		for (GList *l = c->urbs.head; l; l = l->next) {
			struct pending_urb *p = l->data;

			if (p->ready_at <= now)
				return true;
		}
	}
	return false;
}

static int node_make_fifo(struct sim_usbfs *u, struct usbfs_node *n, char *errbuf,
			  size_t errbuf_size)
{
	g_autofree char *dir = NULL;

	n->fifo_path = g_strconcat(u->root, n->devnode, NULL);
	dir = g_path_get_dirname(n->fifo_path);
	if (g_mkdir_with_parents(dir, 0755) < 0 || (unlink(n->fifo_path) < 0 && errno != ENOENT) ||
	    mkfifo(n->fifo_path, 0666) < 0) {
		snprintf(errbuf, errbuf_size, "cannot create device node %s: %s", n->fifo_path,
			 strerror(errno));
		return -errno;
	}
	n->fifo_fd = open(n->fifo_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (n->fifo_fd < 0) {
		snprintf(errbuf, errbuf_size, "cannot open device node %s: %s", n->fifo_path,
			 strerror(errno));
		return -errno;
	}
	/* one page: a few writes fill it */
	(void)fcntl(n->fifo_fd, F_SETPIPE_SZ, 4096);
	n->fifo_drained = true;
	node_fill(n);
	return 0;
}

static void pending_free(struct pending_urb *p)
{
	if (!p)
		return;
	g_clear_object(&p->urb);
	g_clear_object(&p->buf);
	g_free(p->in);
	g_free(p);
}

/* The device left the bus: URBs still in flight end with -ESHUTDOWN, as the kernel's
 * usb_kill_urb on disconnect; later ioctls get ENODEV. */
static void node_set_gone(struct sim_usbfs *u, struct usbfs_node *n, uint64_t now)
{
	bool any = false;

	n->gone = true;
	for (guint i = 0; i < u->clients->len; i++) {
		struct usbfs_client *c = g_ptr_array_index(u->clients, i);

		if (c->node != n)
			continue;
		for (GList *l = c->urbs.head; l; l = l->next) {
			struct pending_urb *p = l->data;

			if (p->ready_at > now) {
				p->status = -ESHUTDOWN;
				p->actual = 0;
				p->ready_at = now;
			}
			any = true;
		}
	}
	if (any)
		node_drain(n);
}

/* ---- model events → testbed actions --------------------------------------------------- */

static void port_queue(struct usbfs_port *p, enum action_type type, uint64_t at,
		       uint64_t generation, struct usbfs_node *node)
{
	struct action *a = g_new0(struct action, 1);
	struct action *last = g_queue_peek_tail(&p->actions);

	/* keep the queue ordered in time */
	if (last && at < last->at)
		at = last->at;
	a->type = type;
	a->at = at;
	a->generation = generation;
	a->node = node;
	g_queue_push_tail(&p->actions, a);
}

static void port_pump(struct usbfs_port *p, uint64_t now)
{
	struct sim_usbfs *u = p->u;
	struct sim_event ev;

	while (sim_device_next_event(p->dev, &ev) == 1) {
		uint64_t at = MAX(ev.at_us, now);

		if (ev.type == SIM_EVENT_DISCONNECT) {
			struct usbfs_node *n = p->cur;

			if (!n || n->gone || n->generation != ev.generation)
				continue; /* never made it into the testbed */
			node_set_gone(u, n, now);
			p->last_remove_at = at + REMOVE_DELAY_US;
			port_queue(p, ACT_REMOVE, p->last_remove_at, 0, n);
		} else if (ev.type == SIM_EVENT_CONNECT) {
			port_queue(p, ACT_ADD, MAX(at, p->last_remove_at + READD_GAP_US),
				   ev.generation, NULL);
		}
	}
}

static void pump_all(struct sim_usbfs *u, uint64_t now)
{
	for (size_t i = 0; i < u->n_ports; i++)
		port_pump(&u->ports[i], now);
}

static uint64_t next_deadline(struct sim_usbfs *u, uint64_t now)
{
	uint64_t t = NEVER;

	for (size_t i = 0; i < u->n_ports; i++) {
		struct action *a = g_queue_peek_head(&u->ports[i].actions);

		t = MIN(t, sim_device_next_deadline(u->ports[i].dev));
		if (a)
			t = MIN(t, a->at);
	}
	for (guint i = 0; i < u->clients->len; i++) {
		struct usbfs_client *c = g_ptr_array_index(u->clients, i);

		for (GList *l = c->urbs.head; l; l = l->next) {
			struct pending_urb *p = l->data;

			if (p->ready_at > now)
				t = MIN(t, p->ready_at);
		}
	}
	return t;
}

static gboolean service_cb(gpointer data);

/* Called with the lock held, from any thread: make the main loop wake up in time. */
static void kick(struct sim_usbfs *u)
{
	uint64_t t = next_deadline(u, now_us());

	if (t < u->armed_at) {
		u->armed_at = t;
		g_main_context_invoke(g_main_context_default(), service_cb, u);
	}
}

/* ---- sysfs/udev records (umockdev_testbed_add_from_string() format) ---------------------- */

static void append_hex(GString *s, const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		g_string_append_printf(s, "%02X", buf[i]);
}

static void append_attr_str(GString *s, const char *name, const char *value)
{
	g_string_append_printf(s, "A: %s=", name);
	for (const char *c = value; *c; c++) {
		if (*c == '\\')
			g_string_append(s, "\\\\");
		else if (*c == '\n')
			g_string_append_c(s, ' ');
		else
			g_string_append_c(s, *c);
	}
	g_string_append(s, "\\n\n");
}

/* A root hub, so that libusb finds each device's parent and port number. */
static char *hub_record(size_t n_ports)
{
	static const uint8_t desc[] = {
		/* device: USB 2.0 hub, 1d6b:0002 */
		0x12,
		0x01,
		0x00,
		0x02,
		0x09,
		0x00,
		0x01,
		0x40,
		0x6b,
		0x1d,
		0x02,
		0x00,
		0x06,
		0x06,
		0x03,
		0x02,
		0x01,
		0x01,
		/* configuration, one hub interface, one interrupt endpoint */
		0x09,
		0x02,
		0x19,
		0x00,
		0x01,
		0x01,
		0x00,
		0xe0,
		0x00,
		0x09,
		0x04,
		0x00,
		0x00,
		0x01,
		0x09,
		0x00,
		0x00,
		0x00,
		0x07,
		0x05,
		0x81,
		0x03,
		0x04,
		0x00,
		0x0c,
	};
	GString *s = g_string_new("P: /devices/usb1\nN: bus/usb/001/001=");

	append_hex(s, desc, sizeof(desc));
	g_string_append(
	    s, "\nE: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\nE: DRIVER=usb\n"
	       "E: BUSNUM=001\nE: DEVNUM=001\nE: DEVNAME=/dev/bus/usb/001/001\n"
	       "E: PRODUCT=1d6b/2/606\nE: TYPE=9/0/1\nE: MAJOR=189\nE: MINOR=0\n"
	       "A: busnum=1\\n\nA: devnum=1\\n\nA: speed=480\\n\nA: bConfigurationValue=1\\n\n"
	       "A: bNumConfigurations=1\\n\nA: bDeviceClass=09\\n\nA: idVendor=1d6b\\n\n"
	       "A: idProduct=0002\\n\nA: bcdDevice=0606\\n\nA: bMaxPacketSize0=64\\n\n"
	       "A: devpath=0\\n\nA: manufacturer=dfuflash-sim\\n\n"
	       "A: product=EHCI Host Controller\\n\nA: serial=dfuflash-sim\\n\n"
	       "A: dev=189:0\\n\n");
	g_string_append_printf(s, "A: maxchild=%zu\\n\nH: descriptors=", n_ports);
	append_hex(s, desc, sizeof(desc));
	g_string_append(s, "\n");
	return g_string_free(s, FALSE);
}

static char *device_record(struct usbfs_port *p, struct usbfs_node *n, const uint8_t *desc,
			   size_t len)
{
	GString *s = g_string_new(NULL);
	unsigned minor = (BUS_NUM - 1) * 128 + n->devnum - 1;
	uint16_t vid = (uint16_t)(desc[8] | desc[9] << 8);
	uint16_t pid = (uint16_t)(desc[10] | desc[11] << 8);
	uint16_t bcd = (uint16_t)(desc[12] | desc[13] << 8);
	static const char *const str_attr[] = { "manufacturer", "product", "serial" };

	g_string_append_printf(s, "P: /devices/usb1/1-%u\n", p->number);
	g_string_append_printf(s,
			       "E: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\nE: DRIVER=usb\n"
			       "E: BUSNUM=%03u\nE: DEVNUM=%03u\nE: DEVNAME=%s\n"
			       "E: PRODUCT=%x/%x/%x\nE: TYPE=%u/%u/%u\nE: MAJOR=189\nE: MINOR=%u\n",
			       BUS_NUM, n->devnum, n->devnode, vid, pid, bcd, desc[4], desc[5],
			       desc[6], minor);
	g_string_append_printf(
	    s,
	    "A: busnum=%u\\n\nA: devnum=%u\\n\nA: speed=12\\n\n"
	    "A: bConfigurationValue=1\\n\nA: bNumConfigurations=%u\\n\n"
	    "A: bDeviceClass=%02x\\n\nA: idVendor=%04x\\n\nA: idProduct=%04x\\n\n"
	    "A: bcdDevice=%04x\\n\nA: bMaxPacketSize0=%u\\n\nA: devpath=%u\\n\n"
	    "A: maxchild=0\\n\nA: dev=189:%u\\n\n",
	    BUS_NUM, n->devnum, desc[17], desc[4], vid, pid, bcd, desc[7], p->number, minor);
	for (unsigned i = 0; i < 3; i++) {
		char str[256];
		int r;

		if (desc[14 + i] == 0)
			continue;
		r = sim_device_string(p->dev, desc[14 + i], str, sizeof(str));
		if (r < 0)
			continue;
		str[MIN((size_t)r, sizeof(str) - 1)] = '\0';
		append_attr_str(s, str_attr[i], str);
	}
	g_string_append(s, "H: descriptors=");
	append_hex(s, desc, len);
	g_string_append(s, "\n");
	return g_string_free(s, FALSE);
}

static unsigned alloc_devnum(struct sim_usbfs *u)
{
	for (unsigned tries = 0; tries < MAX_DEVNUM; tries++) {
		unsigned d = u->next_devnum;
		struct usbfs_node *old = u->by_devnum[d];

		u->next_devnum = d >= MAX_DEVNUM ? 2 : d + 1;
		if (!old || (old->gone && (!old->port || old->port->cur != old)))
			return d;
	}
	return 0;
}

/* Main thread: plug the current enumeration of @p into the testbed, if it is still
 * @generation (0: whatever is connected now). */
static int port_add(struct usbfs_port *p, uint64_t generation, char *errbuf, size_t errbuf_size)
{
	struct sim_usbfs *u = p->u;
	struct sim_state st;
	uint8_t desc[4096];
	struct usbfs_node *n, *old;
	g_autofree char *record = NULL;
	g_autoptr(GError) err = NULL;
	unsigned devnum;
	int len, r;

	g_rec_mutex_lock(&u->lock);
	if (sim_device_get_state(p->dev, &st) < 0 || !st.connected ||
	    (generation && st.generation != generation) ||
	    (p->cur && !p->cur->gone && p->cur->generation == st.generation)) {
		g_rec_mutex_unlock(&u->lock);
		return 0; /* gone again, or already there */
	}
	len = sim_device_descriptors(p->dev, desc, sizeof(desc));
	devnum = alloc_devnum(u);
	if (len < 18 + 9 || (size_t)len > sizeof(desc) || devnum == 0) {
		g_rec_mutex_unlock(&u->lock);
		snprintf(errbuf, errbuf_size, "port %u: no descriptors or no free address",
			 p->number);
		return -EINVAL;
	}
	old = u->by_devnum[devnum];
	n = g_new0(struct usbfs_node, 1);
	n->port = p;
	n->generation = st.generation;
	n->devnum = devnum;
	n->fifo_fd = -1;
	n->n_ifaces = MIN((unsigned)desc[18 + 4], MAX_IFACES);
	snprintf(n->devnode, sizeof(n->devnode), "/dev/bus/usb/%03u/%03u", BUS_NUM, devnum);
	g_ptr_array_add(u->nodes, n);
	r = node_make_fifo(u, n, errbuf, errbuf_size);
	if (r < 0) {
		g_rec_mutex_unlock(&u->lock);
		return r;
	}
	u->by_devnum[devnum] = n;
	record = device_record(p, n, desc, (size_t)len);
	p->cur = n;
	u->stats.additions++;
	g_rec_mutex_unlock(&u->lock);

	/* the handler must be in place before the node appears: a client that opens the node
	 * first gets umockdev's default handler, which answers every ioctl with ENOTTY */
	if (old) {
		/* the address wrapped around: umockdev's remove_device() leaves the
		 * /sys/dev/char link behind, and add_devicev() asserts it is absent */
		g_autofree char *link = g_strdup_printf("%s/sys/dev/char/189:%u", u->root,
							(BUS_NUM - 1) * 128 + devnum - 1);

		(void)unlink(link);
		(void)umockdev_testbed_detach_ioctl(u->tb, n->devnode, NULL);
	}
	if (!umockdev_testbed_attach_ioctl(u->tb, n->devnode, u->handler, &err) ||
	    !umockdev_testbed_add_from_string(u->tb, record, &err)) {
		snprintf(errbuf, errbuf_size, "cannot add %s: %s", n->devnode,
			 err ? err->message : "?");
		return -EIO;
	}
	return 0;
}

/* Main thread: the device dropped off the bus; the "remove" uevent reads the device's
 * uevent file, so it goes first. */
static void port_remove(struct usbfs_port *p, struct usbfs_node *n)
{
	struct sim_usbfs *u = p->u;

	g_rec_mutex_lock(&u->lock);
	if (p->cur != n) {
		g_rec_mutex_unlock(&u->lock);
		return;
	}
	p->cur = NULL;
	u->stats.removals++;
	g_rec_mutex_unlock(&u->lock);

	umockdev_testbed_uevent(u->tb, p->syspath, "remove");
	umockdev_testbed_remove_device(u->tb, p->syspath);
	/* clients still holding the old fd keep the FIFO; new opens must fail */
	(void)unlink(n->fifo_path);
}

/* Main thread: apply everything that is due, then re-arm the timer. */
static gboolean service_cb(gpointer data)
{
	struct sim_usbfs *u = data;
	char errbuf[256];

	for (;;) {
		struct action *a = NULL;
		struct usbfs_port *p = NULL;
		uint64_t now;

		g_rec_mutex_lock(&u->lock);
		now = now_us();
		pump_all(u, now);
		for (guint i = 0; i < u->nodes->len; i++) {
			struct usbfs_node *n = g_ptr_array_index(u->nodes, i);

			if (n->fifo_fd >= 0 && !n->fifo_drained && node_has_ready(u, n, now))
				node_drain(n);
		}
		for (size_t i = 0; i < u->n_ports && !a; i++) {
			struct action *head = g_queue_peek_head(&u->ports[i].actions);

			if (head && head->at <= now) {
				a = g_queue_pop_head(&u->ports[i].actions);
				p = &u->ports[i];
			}
		}
		g_rec_mutex_unlock(&u->lock);
		if (!a)
			break;
		if (a->type == ACT_REMOVE) {
			port_remove(p, a->node);
		} else if (port_add(p, a->generation, errbuf, sizeof(errbuf)) < 0) {
			g_printerr("dfuflash-sim: re-enumeration failed: %s\n", errbuf);
		}
		g_free(a);
	}

	g_rec_mutex_lock(&u->lock);
	{
		uint64_t now = now_us();
		uint64_t t = next_deadline(u, now);
		guint ms;

		if (u->timer) {
			g_source_destroy(u->timer);
			g_source_unref(u->timer);
			u->timer = NULL;
		}
		u->armed_at = t;
		if (t != NEVER) {
			/* round up; never spin on a deadline already due */
			ms = t <= now ? 1 : (guint)MIN((t - now + 999) / 1000, (uint64_t)G_MAXINT);
			u->timer = g_timeout_source_new(ms);
			g_source_set_callback(u->timer, service_cb, u, NULL);
			g_source_attach(u->timer, g_main_context_default());
		}
	}
	g_rec_mutex_unlock(&u->lock);
	return G_SOURCE_REMOVE;
}

/* ---- usbfs ioctls (linux/usbdevice_fs.h, as libusb's os/linux_usbfs.c issues them) ----------- */

static void client_free(gpointer data)
{
	struct usbfs_client *c = data;
	struct sim_usbfs *u = c->u;
	struct pending_urb *p;

	g_rec_mutex_lock(&u->lock);
	if (c->node) {
		/* the kernel releases an fd's interfaces when it is closed */
		for (unsigned i = 0; i < MAX_IFACES; i++)
			if (c->node->claim[i] == c->client)
				c->node->claim[i] = NULL;
	}
	while ((p = g_queue_pop_head(&c->urbs)))
		pending_free(p);
	g_ptr_array_remove_fast(u->clients, c);
	g_rec_mutex_unlock(&u->lock);
	g_free(c);
}

static struct usbfs_client *client_get(struct sim_usbfs *u, UMockdevIoctlClient *client)
{
	struct usbfs_client *c = g_object_get_data(G_OBJECT(client), CLIENT_KEY);
	const char *devnode;
	const char *slash;
	unsigned devnum = 0;

	if (c)
		return c;
	c = g_new0(struct usbfs_client, 1);
	c->u = u;
	c->client = client;
	g_queue_init(&c->urbs);
	devnode = umockdev_ioctl_client_get_devnode(client);
	slash = devnode ? strrchr(devnode, '/') : NULL;
	if (slash)
		devnum = (unsigned)strtoul(slash + 1, NULL, 10);
	if (devnum > 0 && devnum <= MAX_DEVNUM)
		c->node = u->by_devnum[devnum];
	g_ptr_array_add(u->clients, c);
	g_object_set_data_full(G_OBJECT(client), CLIENT_KEY, c, client_free);
	return c;
}

static int claim(struct sim_usbfs *u, struct usbfs_node *n, UMockdevIoctlClient *client,
		 unsigned iface)
{
	UMockdevIoctlClient *owner;

	if (iface >= n->n_ifaces)
		return -ENOENT;
	owner = n->claim[iface];
	if (owner && owner != client && umockdev_ioctl_client_get_connected(owner))
		return -EBUSY;
	if (owner != client) {
		/* a new host program takes the device: the model's notion of a "run" */
		sim_device_session_begin(n->port->dev);
		n->claim[iface] = client;
	}
	return 0;
}

/* A standard request the kernel turns into a control transfer (SET_INTERFACE, ...). */
static int standard_request(struct sim_usbfs *u, struct usbfs_node *n, uint8_t type, uint8_t req,
			    uint16_t value, uint16_t index)
{
	struct sim_transfer t = {
		.setup = { .bmRequestType = type,
			   .bRequest = req,
			   .wValue = value,
			   .wIndex = index },
		.generation = n->generation,
	};
	int r = sim_device_submit(n->port->dev, &t);

	u->stats.control_transfers++;
	switch (r) {
	case SIM_OK:
		return 0;
	case SIM_STALL:
		u->stats.stalls++;
		return -EPIPE;
	case SIM_TIMEOUT:
		return -ETIMEDOUT;
	case SIM_GONE:
	case SIM_GONE_AFTER_DATA:
		return -ENODEV;
	default:
		return -EINVAL;
	}
}

struct ioctl_result {
	long res;
	int err;
};

static struct ioctl_result fail(int err)
{
	return (struct ioctl_result){ .res = -1, .err = err };
}

static struct ioctl_result ok(long res)
{
	return (struct ioctl_result){ .res = res, .err = 0 };
}

/*
 * Resolve the URB of a SUBMITURB into *@urb_d and its buffer (the SETUP packet, then
 * the data stage) into *@buf_d, and parse the SETUP packet into @setup.  Returns 0,
 * or the errno the kernel would fail the ioctl with.
 */
static int submit_resolve(const struct usbfs_node *n, UMockdevIoctlData *arg,
			  UMockdevIoctlData **urb_d, UMockdevIoctlData **buf_d,
			  struct sim_setup *setup)
{
	struct usbdevfs_urb *urb;

	*urb_d = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_urb), NULL);
	if (!*urb_d)
		return EFAULT;
	urb = (struct usbdevfs_urb *)(*urb_d)->data;
	if (n->gone)
		return ENODEV;
	if (urb->type != USBDEVFS_URB_TYPE_CONTROL || (urb->endpoint & 0x7f) != 0)
		return ENOENT; /* endpoint 0 is the only one */
	if (urb->buffer_length < 8)
		return EINVAL;
	*buf_d = umockdev_ioctl_data_resolve(*urb_d, G_STRUCT_OFFSET(struct usbdevfs_urb, buffer),
					     (gsize)urb->buffer_length, NULL);
	if (!*buf_d)
		return EFAULT;
	sim_setup_parse((*buf_d)->data, setup);
	if ((size_t)urb->buffer_length < 8u + setup->wLength)
		return EINVAL;
	return 0;
}

/* A pending URB for @t: IN data goes to its own buffer, OUT data comes from @out_data. */
static struct pending_urb *pending_new(struct sim_transfer *t, const uint8_t *out_data)
{
	struct pending_urb *p = g_new0(struct pending_urb, 1);

	if (t->setup.bmRequestType & 0x80) {
		p->in = g_malloc(MAX(t->setup.wLength, 1u));
		t->in_buf = p->in;
		t->in_cap = t->setup.wLength;
	} else {
		t->out_data = out_data;
	}
	return p;
}

/* Fill @p's completion from the device's answer @r to @t at @now.  Returns 0, or EINVAL
 * for an answer no URB can carry. */
static int pending_complete(struct sim_usbfs *u, struct pending_urb *p, int r,
			    const struct sim_transfer *t, uint64_t now)
{
	bool in = t->setup.bmRequestType & 0x80;

	p->ready_at = now + t->delay_us;
	switch (r) {
	case SIM_OK:
		p->actual = in ? t->in_len : t->setup.wLength;
		return 0;
	case SIM_STALL:
		p->status = -EPIPE;
		u->stats.stalls++;
		return 0;
	case SIM_TIMEOUT:
		p->ready_at = NEVER; /* until libusb's timeout discards it */
		return 0;
	case SIM_GONE:
		p->status = -ESHUTDOWN;
		p->ready_at = now;
		return 0;
	case SIM_GONE_AFTER_DATA:
		/* the data stage made it, the status stage did not */
		p->status = -EPROTO;
		p->actual = t->in_len;
		p->ready_at = now;
		return 0;
	default:
		return EINVAL;
	}
}

static struct ioctl_result do_submit(struct sim_usbfs *u, struct usbfs_client *c,
				     UMockdevIoctlData *arg)
{
	g_autoptr(UMockdevIoctlData) urb_d = NULL;
	g_autoptr(UMockdevIoctlData) buf_d = NULL;
	struct usbfs_node *n = c->node;
	struct sim_transfer t = { 0 };
	struct pending_urb *p;
	uint64_t now;
	int r, err;

	err = submit_resolve(n, arg, &urb_d, &buf_d, &t.setup);
	if (err)
		return fail(err);
	p = pending_new(&t, buf_d->data + 8);

	g_rec_mutex_lock(&u->lock);
	if (n->gone) {
		g_rec_mutex_unlock(&u->lock);
		pending_free(p);
		return fail(ENODEV);
	}
	t.generation = n->generation;
	r = sim_device_submit(n->port->dev, &t);
	now = now_us();
	u->stats.control_transfers++;
	err = pending_complete(u, p, r, &t, now);
	if (err) {
		g_rec_mutex_unlock(&u->lock);
		pending_free(p);
		return fail(err);
	}
	p->urb = g_object_ref(urb_d);
	p->buf = g_object_ref(buf_d);
	p->client_addr = urb_d->client_addr;
	g_queue_push_tail(&c->urbs, p);
	pump_all(u, now);
	if (p->ready_at <= now)
		node_drain(n);
	kick(u);
	g_rec_mutex_unlock(&u->lock);
	return ok(0);
}

static struct ioctl_result do_reap(struct sim_usbfs *u, struct usbfs_client *c,
				   UMockdevIoctlData *arg)
{
	g_autoptr(UMockdevIoctlData) pp = NULL;
	struct usbfs_node *n = c->node;
	struct pending_urb *p = NULL;
	struct usbdevfs_urb *urb;
	uint64_t now;

	g_rec_mutex_lock(&u->lock);
	now = now_us();
	for (GList *l = c->urbs.head; l; l = l->next) {
		struct pending_urb *q = l->data;

		if (q->ready_at <= now) {
			p = q;
			g_queue_delete_link(&c->urbs, l);
			break;
		}
	}
	if (!node_has_ready(u, n, now))
		node_fill(n);
	g_rec_mutex_unlock(&u->lock);
	if (!p)
		return fail(n->gone ? ENODEV : EAGAIN);

	urb = (struct usbdevfs_urb *)p->urb->data;
	urb->status = p->status;
	urb->actual_length = (int)p->actual; /* data only, without the SETUP bytes */
	if (p->in && p->actual)
		memcpy(p->buf->data + 8, p->in, p->actual);
	pp = umockdev_ioctl_data_resolve(arg, 0, sizeof(gpointer), NULL);
	if (!pp) {
		pending_free(p);
		return fail(EFAULT);
	}
	umockdev_ioctl_data_set_ptr(pp, 0, p->urb);
	pending_free(p);
	return ok(0);
}

static struct ioctl_result do_discard(struct sim_usbfs *u, struct usbfs_client *c,
				      UMockdevIoctlData *arg)
{
	gulong addr = 0;
	struct ioctl_result res = fail(EINVAL);
	uint64_t now;

	memcpy(&addr, arg->data, MIN(sizeof(addr), (size_t)arg->data_len));
	g_rec_mutex_lock(&u->lock);
	now = now_us();
	for (GList *l = c->urbs.head; l; l = l->next) {
		struct pending_urb *p = l->data;

		if (p->client_addr != addr)
			continue;
		if (p->ready_at > now) {
			p->status = -ENOENT;
			p->actual = 0;
			p->ready_at = now;
			node_drain(c->node);
			res = ok(0);
		}
		break; /* already completed: EINVAL, as the kernel */
	}
	g_rec_mutex_unlock(&u->lock);
	return res;
}

static struct ioctl_result do_control(struct sim_usbfs *u, struct usbfs_client *c,
				      UMockdevIoctlData *arg)
{
	g_autoptr(UMockdevIoctlData) ct_d = NULL;
	g_autoptr(UMockdevIoctlData) data_d = NULL;
	struct usbdevfs_ctrltransfer *ct;
	struct sim_transfer t = { 0 };
	struct usbfs_node *n = c->node;
	int r;

	ct_d = umockdev_ioctl_data_resolve(arg, 0, sizeof(*ct), NULL);
	if (!ct_d)
		return fail(EFAULT);
	ct = (struct usbdevfs_ctrltransfer *)ct_d->data;
	t.setup.bmRequestType = ct->bRequestType;
	t.setup.bRequest = ct->bRequest;
	t.setup.wValue = ct->wValue;
	t.setup.wIndex = ct->wIndex;
	t.setup.wLength = ct->wLength;
	if (ct->wLength) {
		data_d = umockdev_ioctl_data_resolve(
		    ct_d, G_STRUCT_OFFSET(struct usbdevfs_ctrltransfer, data), ct->wLength, NULL);
		if (!data_d)
			return fail(EFAULT);
		if (ct->bRequestType & 0x80) {
			t.in_buf = data_d->data;
			t.in_cap = ct->wLength;
		} else {
			t.out_data = data_d->data;
		}
	}
	g_rec_mutex_lock(&u->lock);
	if (n->gone) {
		g_rec_mutex_unlock(&u->lock);
		return fail(ENODEV);
	}
	t.generation = n->generation;
	r = sim_device_submit(n->port->dev, &t);
	u->stats.control_transfers++;
	pump_all(u, now_us());
	kick(u);
	g_rec_mutex_unlock(&u->lock);
	switch (r) {
	case SIM_OK:
		if (t.delay_us && ct->timeout && t.delay_us > (uint64_t)ct->timeout * 1000)
			return fail(ETIMEDOUT);
		if (t.delay_us)
			g_usleep(t.delay_us);
		return ok((ct->bRequestType & 0x80) ? (long)t.in_len : ct->wLength);
	case SIM_STALL:
		return fail(EPIPE);
	case SIM_TIMEOUT:
		if (ct->timeout)
			g_usleep((gulong)ct->timeout * 1000);
		return fail(ETIMEDOUT);
	case SIM_GONE_AFTER_DATA:
		return fail(EPROTO);
	case SIM_GONE:
		return fail(ENODEV);
	default:
		return fail(EINVAL);
	}
}

static struct ioctl_result get_capabilities(UMockdevIoctlData *arg)
{
	g_autoptr(UMockdevIoctlData) d =
	    umockdev_ioctl_data_resolve(arg, 0, sizeof(uint32_t), NULL);

	if (!d)
		return fail(EFAULT);
	/* not CAP_MMAP: libusb would mmap the fd */
	*(uint32_t *)d->data = USBDEVFS_CAP_ZERO_PACKET | USBDEVFS_CAP_BULK_CONTINUATION |
			       USBDEVFS_CAP_NO_PACKET_SIZE_LIM | USBDEVFS_CAP_REAP_AFTER_DISCONNECT;
	return ok(0);
}

/* The size of the argument @request points to, or 0 when the handler reads none. */
static gsize simple_arg_size(unsigned long request)
{
	switch ((unsigned int)request) {
	case USBDEVFS_CLAIMINTERFACE:
	case USBDEVFS_RELEASEINTERFACE:
	case USBDEVFS_DISCONNECT_CLAIM:
	case USBDEVFS_SETINTERFACE:
	case USBDEVFS_SETCONFIGURATION:
	case USBDEVFS_CONNECTINFO:
		if (request == (unsigned long)USBDEVFS_SETINTERFACE)
			return sizeof(struct usbdevfs_setinterface);
		if (request == (unsigned long)USBDEVFS_CONNECTINFO)
			return sizeof(struct usbdevfs_connectinfo);
		if (request == (unsigned long)USBDEVFS_DISCONNECT_CLAIM)
			return sizeof(struct usbdevfs_disconnect_claim);
		return sizeof(uint32_t);
	default:
		return 0;
	}
}

/* The handlers below run under u->lock, with the node present. */

static struct ioctl_result release_interface(struct usbfs_node *n, UMockdevIoctlClient *client,
					     uint32_t iface)
{
	if (iface < MAX_IFACES && n->claim[iface] == client)
		n->claim[iface] = NULL;
	else
		return fail(EINVAL);
	return ok(0);
}

/* SET_INTERFACE and SET_CONFIGURATION: a stall is the kernel's EINVAL. */
static struct ioctl_result standard_result(int r)
{
	return r < 0 ? fail(r == -EPIPE ? EINVAL : -r) : ok(0);
}

static struct ioctl_result set_interface(struct sim_usbfs *u, struct usbfs_node *n,
					 const struct usbdevfs_setinterface *si)
{
	return standard_result(
	    standard_request(u, n, 0x01, 0x0B, (uint16_t)si->altsetting, (uint16_t)si->interface));
}

static struct ioctl_result set_configuration(struct sim_usbfs *u, struct usbfs_node *n, int32_t cfg)
{
	return standard_result(standard_request(u, n, 0x00, 0x09, cfg < 0 ? 0 : (uint16_t)cfg, 0));
}

static struct ioctl_result reset_device(struct sim_usbfs *u, struct usbfs_node *n)
{
	/* a reset that changes the descriptors makes the kernel re-enumerate and
	 * answer ENODEV, which libusb reports as NOT_FOUND (linux_usbfs.c op_reset_device) */
	int r = sim_device_usb_reset(n->port->dev);

	pump_all(u, now_us());
	kick(u);
	return r == 0 ? ok(0) : fail(ENODEV);
}

/* @d: the argument resolved as simple_arg_size() says. */
static struct ioctl_result simple_request(struct sim_usbfs *u, struct usbfs_node *n,
					  UMockdevIoctlClient *client, unsigned long request,
					  UMockdevIoctlData *d)
{
	int r;

	switch ((unsigned int)request) {
	case USBDEVFS_CLAIMINTERFACE:
	case USBDEVFS_DISCONNECT_CLAIM:
		r = claim(u, n, client, *(uint32_t *)d->data);
		return r < 0 ? fail(-r) : ok(0);
	case USBDEVFS_RELEASEINTERFACE:
		return release_interface(n, client, *(uint32_t *)d->data);
	case USBDEVFS_SETINTERFACE:
		return set_interface(u, n, (struct usbdevfs_setinterface *)d->data);
	case USBDEVFS_SETCONFIGURATION:
		return set_configuration(u, n, *(int32_t *)d->data);
	case USBDEVFS_RESET:
		return reset_device(u, n);
	case USBDEVFS_CONNECTINFO: {
		struct usbdevfs_connectinfo *ci = (struct usbdevfs_connectinfo *)d->data;

		ci->devnum = n->devnum;
		ci->slow = 0;
		return ok(0);
	}
	case USBDEVFS_GET_SPEED:
		return ok(USB_SPEED_FULL);
	case USBDEVFS_CLEAR_HALT:
	case USBDEVFS_RESETEP:
		return ok(0);
	case USBDEVFS_GETDRIVER:
	case USBDEVFS_IOCTL:
		return fail(ENODATA); /* no kernel driver bound */
	default:
		return fail(ENOTTY);
	}
}

static struct ioctl_result do_simple(struct sim_usbfs *u, struct usbfs_client *c,
				     UMockdevIoctlClient *client, unsigned long request,
				     UMockdevIoctlData *arg)
{
	g_autoptr(UMockdevIoctlData) d = NULL;
	struct usbfs_node *n = c->node;
	struct ioctl_result res;
	gsize size;

	if ((unsigned int)request == USBDEVFS_GET_CAPABILITIES)
		return get_capabilities(arg);
	size = simple_arg_size(request);
	if (size) {
		d = umockdev_ioctl_data_resolve(arg, 0, size, NULL);
		if (!d)
			return fail(EFAULT);
	}

	g_rec_mutex_lock(&u->lock);
	if (n->gone) {
		g_rec_mutex_unlock(&u->lock);
		return fail(ENODEV);
	}
	res = simple_request(u, n, client, request, d);
	g_rec_mutex_unlock(&u->lock);
	return res;
}

static gboolean on_ioctl(UMockdevIoctlBase *handler, UMockdevIoctlClient *client, gpointer data)
{
	struct sim_usbfs *u = data;
	unsigned long request = umockdev_ioctl_client_get_request(client);
	UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
	struct usbfs_client *c;
	struct ioctl_result res;

	g_rec_mutex_lock(&u->lock);
	u->stats.ioctls++;
	c = client_get(u, client);
	g_rec_mutex_unlock(&u->lock);

	if (!c->node)
		res = fail(ENODEV);
	else if (request == (unsigned long)USBDEVFS_SUBMITURB)
		res = do_submit(u, c, arg);
	else if (request == (unsigned long)USBDEVFS_REAPURBNDELAY ||
		 request == (unsigned long)USBDEVFS_REAPURB)
		res = do_reap(u, c, arg);
	else if (request == (unsigned long)USBDEVFS_DISCARDURB)
		res = do_discard(u, c, arg);
	else if (request == (unsigned long)USBDEVFS_CONTROL)
		res = do_control(u, c, arg);
	else
		res = do_simple(u, c, client, request, arg);
	umockdev_ioctl_client_complete(client, res.res, res.err);
	return TRUE;
}

/* ---- life cycle ----------------------------------------------------------------------- */

int sim_usbfs_new(struct sim_device *const *devs, size_t n, struct sim_usbfs **out, char *errbuf,
		  size_t errbuf_size)
{
	struct sim_usbfs *u;
	g_autofree char *hub = NULL;
	g_autoptr(GError) err = NULL;
	int r;

	if (n == 0 || n > MAX_PORTS) {
		snprintf(errbuf, errbuf_size, "between 1 and %d devices", MAX_PORTS);
		return -EINVAL;
	}
	u = g_new0(struct sim_usbfs, 1);
	g_rec_mutex_init(&u->lock);
	u->nodes = g_ptr_array_new();
	u->clients = g_ptr_array_new();
	u->next_devnum = 2;
	u->armed_at = NEVER;
	u->tb = umockdev_testbed_new();
	u->root = umockdev_testbed_get_root_dir(u->tb);
	u->handler = umockdev_ioctl_base_new();
	g_signal_connect(u->handler, "handle-ioctl", G_CALLBACK(on_ioctl), u);

	hub = hub_record(n);
	if (!umockdev_testbed_add_from_string(u->tb, hub, &err)) {
		snprintf(errbuf, errbuf_size, "cannot add the root hub: %s", err->message);
		sim_usbfs_free(u);
		return -EIO;
	}
	u->n_ports = n;
	for (size_t i = 0; i < n; i++) {
		struct usbfs_port *p = &u->ports[i];

		p->u = u;
		p->number = (unsigned)i + 1;
		p->dev = devs[i];
		g_queue_init(&p->actions);
		snprintf(p->syspath, sizeof(p->syspath), "/sys/devices/usb1/1-%u", p->number);
		r = port_add(p, 0, errbuf, errbuf_size);
		if (r < 0) {
			sim_usbfs_free(u);
			return r;
		}
	}
	/* the models' initial CONNECT events are already mirrored */
	g_rec_mutex_lock(&u->lock);
	pump_all(u, now_us());
	kick(u);
	g_rec_mutex_unlock(&u->lock);
	*out = u;
	return 0;
}

void sim_usbfs_free(struct sim_usbfs *u)
{
	if (!u)
		return;
	if (u->handler)
		g_signal_handlers_disconnect_by_data(u->handler, u);
	g_rec_mutex_lock(&u->lock);
	/*
	 * Clients outliving us must not call back into freed memory.  A client
	 * whose data we can steal is ours to free.  One we cannot steal is being
	 * destroyed right now on umockdev's thread: its client_free() already
	 * holds the pointer and waits for this lock, so let it finish (it removes
	 * itself from the array) before anything it uses is freed.
	 */
	for (guint i = 0; i < u->clients->len;) {
		struct usbfs_client *c = g_ptr_array_index(u->clients, i);
		struct pending_urb *p;

		if (g_object_steal_data(G_OBJECT(c->client), CLIENT_KEY) != c) {
			i++;
			continue;
		}
		while ((p = g_queue_pop_head(&c->urbs)))
			pending_free(p);
		g_ptr_array_remove_index_fast(u->clients, i);
		g_free(c);
	}
	for (int waited = 0; u->clients->len && waited < 2000; waited++) {
		g_rec_mutex_unlock(&u->lock);
		g_usleep(1000);
		g_rec_mutex_lock(&u->lock);
	}
	g_rec_mutex_unlock(&u->lock);
	if (u->timer) {
		g_source_destroy(u->timer);
		g_source_unref(u->timer);
	}
	g_clear_object(&u->tb); /* removes the testbed directory */
	g_clear_object(&u->handler);
	for (size_t i = 0; i < u->n_ports; i++)
		g_queue_clear_full(&u->ports[i].actions, g_free);
	for (guint i = 0; i < u->nodes->len; i++) {
		struct usbfs_node *n = g_ptr_array_index(u->nodes, i);

		if (n->fifo_fd >= 0)
			close(n->fifo_fd);
		g_free(n->fifo_path);
		g_free(n);
	}
	g_ptr_array_free(u->nodes, TRUE);
	g_ptr_array_free(u->clients, TRUE);
	g_free(u->root);
	g_rec_mutex_clear(&u->lock);
	g_free(u);
}

const char *sim_usbfs_root(struct sim_usbfs *u)
{
	return u->root;
}

void sim_usbfs_lock(struct sim_usbfs *u)
{
	g_rec_mutex_lock(&u->lock);
}

void sim_usbfs_unlock(struct sim_usbfs *u)
{
	g_rec_mutex_unlock(&u->lock);
}

int sim_usbfs_replug(struct sim_usbfs *u, size_t index)
{
	int r;

	if (index >= u->n_ports)
		return -EINVAL;
	g_rec_mutex_lock(&u->lock);
	r = sim_device_replug(u->ports[index].dev);
	/* the CONNECT event becomes an "add" on the next service run */
	pump_all(u, now_us());
	kick(u);
	g_rec_mutex_unlock(&u->lock);
	return r;
}

void sim_usbfs_announce_change(struct sim_usbfs *u)
{
	for (size_t i = 0; i < u->n_ports; i++) {
		struct usbfs_port *p = &u->ports[i];
		bool present;

		g_rec_mutex_lock(&u->lock);
		present = p->cur && !p->cur->gone;
		g_rec_mutex_unlock(&u->lock);
		if (present)
			umockdev_testbed_uevent(u->tb, p->syspath, "change");
	}
}

void sim_usbfs_get_stats(struct sim_usbfs *u, struct sim_usbfs_stats *st)
{
	g_rec_mutex_lock(&u->lock);
	*st = u->stats;
	g_rec_mutex_unlock(&u->lock);
}
